package injector

import (
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
)

// answerAsync answers a batched UDP query that no rule took, without
// holding up the goroutine serving its batch: from the zones at once,
// else from upstream on the goroutine that reads the upstream's answer
// (see forwardAsync).
func (p *pipeline) answerAsync(q *query, v verdict) {
	src := v.async
	m := src.local(&q.req)
	if m == nil {
		p.forwardAsync(q, v)
		return
	}
	v.out = fault.Outcome{Msg: m}
	p.respond(q, &v)
	// The zones' answers (AA) are the same for the next such query:
	// ServeRaw sends them without this path. respond made m the message
	// as sent (see write), which is what is kept.
	if m.Authoritative {
		src.prepacked.keep(q.req.Msg, m, q.req.Name, udpSize(q.opt), &p.obs.live)
	}
}

// forwardAsync forwards a query and answers it on the goroutine that
// reads the upstream's answer: no goroutine waits for each forwarded
// query.
func (p *pipeline) forwardAsync(q *query, v verdict) {
	src := v.async
	answer := func(m *dns.Msg, err error) {
		v.out, v.err = fault.Outcome{Msg: m}, err
		v = p.finish(q, v)
		p.respond(q, &v)
	}
	if !p.lives.detach() { // shutting down
		answer(nil, errShuttingDown)
		return
	}
	q.served.Hijack() // answered after the handler returns
	sent := time.Now()
	src.fwd.ForwardAsync(p.ctx, q.req.Msg, func(resp *dns.Msg, err error) {
		defer p.lives.done()
		defer p.recoverPanic(q.served, q.req.Msg)
		answer(src.forwarded(resp, err, sent))
	})
}
