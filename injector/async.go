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
		p.forwardAsync(q, v, &q.req, nil)
		return
	}
	if target := src.chaseTarget(&q.req, m); target != "" {
		p.forwardAsync(q, v, requestFor(&q.req, target), func(end *dns.Msg) *dns.Msg { return chased(m, end) })
		return
	}
	v.out = fault.Outcome{Msg: m}
	v, d := p.followChain(q, v)
	if d > 0 {
		p.respondLater(q, v, d)
		return
	}
	p.respond(q, &v)
	// The zones' answers (AA) are the same for the next such query:
	// ServeRaw sends them without this path. respond made m the message
	// as sent (see write), which is what is kept.
	if m.Authoritative && v.rule == "" {
		src.prepacked.keep(q.req.Msg, m, q.req.Name, udpSize(q.opt), &p.obs.live)
	}
}

// forwardAsync forwards req (q's, or the name q's chain leaves the zones
// for) and answers q on the goroutine that reads the upstream's answer: no
// goroutine waits for each forwarded query. merge, when set, makes the
// upstream's answer part of q's.
func (p *pipeline) forwardAsync(q *query, v verdict, req *fault.Request, merge func(*dns.Msg) *dns.Msg) {
	src := v.async
	answer := func(m *dns.Msg, err error) {
		if err == nil && merge != nil {
			m = merge(m)
		}
		v.out, v.err = fault.Outcome{Msg: m}, err
		v, d := p.followChain(q, v)
		v = p.finish(q, v)
		if d > 0 {
			p.respondLater(q, v, d)
			return
		}
		p.respond(q, &v)
	}
	if !p.lives.detach() { // shutting down
		answer(nil, errShuttingDown)
		return
	}
	q.served.Hijack() // answered after the handler returns
	sent := time.Now()
	src.fwd.ForwardAsync(p.ctx, req.Msg, func(resp *dns.Msg, err error) {
		defer p.lives.done()
		defer p.recoverPanic(q.served, q.req.Msg)
		answer(src.forwarded(req.Msg, resp, err, sent))
	})
}
