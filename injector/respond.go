package injector

import (
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/scenarios"
)

// respond writes the verdict and tells every sink about it. Every way a
// query finishes ends here, but for prepacked answers (prepacked.go),
// which write their bytes and call the same observer.
func (p *pipeline) respond(q *query, v *verdict) {
	err := p.write(q, v)
	ev := p.event(q, v)
	if p.cfg.Dnstap != nil {
		p.tapClient(q, v, &ev, err == nil)
	}
	if q.charged.IsValid() {
		p.signing.Spend(q.charged, float64(ev.Latency.Microseconds()))
	}
	if err != nil {
		// Nothing reached the client: the query counts as unanswered,
		// never as the rcode of an answer that was not sent.
		ev.Sent, ev.Rcode, ev.TTL, ev.Answer, ev.Err = SentNothing, 0, -1, nil, fmt.Errorf("the answer could not be sent: %w", err)
	}
	p.obs.observe(&ev, nil)
}

// write sends the verdict to the client. Besides it, only recoverPanic
// writes a reply (SERVFAIL for a query whose handling panicked). write
// changes v.out.Msg into the message as sent: TTLs scaled with the
// speed, our OPT record added, and over UDP truncated to the client's
// size. It says why, when the answer could not be sent.
func (p *pipeline) write(q *query, v *verdict) error {
	w := q.served
	src := q.src.source
	if src == nil { // answered before the plan was read (a malformed query)
		src = p.state.Load().plan.source
	}
	switch {
	case v.out.Drop:
		return nil
	case v.out.Raw != nil:
		// Bytes that claim a DNS header (garbage) say RA as every answer
		// of ours does.
		if raw := v.out.Raw; len(raw) >= 4 {
			raw[3] &^= 0x80
			if src.recurses {
				raw[3] |= 0x80
			}
		}
		_, err := w.Write(v.out.Raw)
		return err
	case v.out.HTTP != nil:
		if hw, ok := w.(httpErrorWriter); ok {
			hw.writeHTTPError(v.out.HTTP)
		}
		return nil
	case v.out.Msg == nil:
		return nil
	}
	m := v.out.Msg
	m.RecursionAvailable = src.recurses
	m.RecursionDesired = q.req.Msg.RecursionDesired // the client's, as RFC 1035 has it: not the upstream's
	// TTLs run as fast as the timeline: at --speed 60, 300 s become 5.
	// A transfer is the zone as written, for a secondary to serve.
	if p.ttlScale != 1 && v.action != "transfer" && (len(m.Answer) > 0 || len(m.Ns) > 0 || len(m.Extra) > 0) {
		fault.ScaleTTL(m, p.ttlScale)
	}
	if v.ede == nil && m.Rcode == dns.RcodeRefused && v.action == "pass" && q.req.Msg.Question[0].Qclass == dns.ClassINET && !src.zones.Contains(q.req.Name) {
		v.ede = notAuthoritative // as Knot says why: no zone of ours holds the name
	}
	// Our own EDNS0 record, only to clients that sent one (RFC 6891).
	if q.opt != nil {
		m.Extra = append(m.Extra, ourOPT(q.opt.Do(), v.ede))
	}
	if q.req.Transport.Stream() {
		m.Compress = true
		if (q.req.Transport == scenarios.DoT || q.req.Transport == scenarios.DoH) && padded(q.opt) {
			pad(m)
		}
	} else {
		m.Truncate(udpSize(q.opt))
	}
	if err := w.WriteMsg(m); err != nil {
		return err
	}
	for _, next := range v.out.Next {
		next.RecursionAvailable, next.RecursionDesired, next.Compress = m.RecursionAvailable, m.RecursionDesired, true
		if err := w.WriteMsg(next); err != nil {
			return err
		}
	}
	return nil
}

// event is the record of one answered query that every sink reads.
func (p *pipeline) event(q *query, v *verdict) Event {
	ev := Event{
		Time: q.arrived, Client: q.req.Client, Name: q.req.Name, Type: q.req.Type, Transport: q.req.Transport,
		Phase: v.phase, Rule: v.rule, AdHoc: v.adhoc, Via: v.via, Action: v.action, DNSSEC: string(v.dnssec), Sent: SentNothing, TTL: -1,
		Latency: time.Since(q.began), Err: v.err,
	}
	switch {
	case v.out.Msg != nil:
		ev.Sent, ev.Rcode, ev.TTL, ev.Answer = SentMessage, v.out.Msg.Rcode, cacheTTL(v.out.Msg), v.out.Msg.Answer
	case v.out.Raw != nil:
		ev.Sent = SentGarbage
	case v.out.HTTP != nil:
		ev.Sent, ev.Rcode = SentHTTP, v.out.HTTP.Status
	}
	return ev
}

// ourOPT is the OPT record of a reply. Each reply gets its own: packing
// writes the extended rcode into it, even when there is none.
func ourOPT(do bool, ede *dns.EDNS0_EDE) *dns.OPT {
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(upstream.EDNSSize)
	opt.SetDo(do)
	if ede != nil {
		opt.Option = append(opt.Option, ede)
	}
	return opt
}

// notAuthoritative is the EDE of a REFUSED for a name outside the zones
// when there is no upstream: what Knot sends.
var notAuthoritative = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNotAuthoritative}

// padded tells whether the query carries the EDNS(0) Padding option
// (RFC 7830).
func padded(opt *dns.OPT) bool {
	if opt == nil {
		return false
	}
	for _, o := range opt.Option {
		if o.Option() == dns.EDNS0PADDING {
			return true
		}
	}
	return false
}

// paddingBlock is the block size RFC 8467 recommends for responses.
const paddingBlock = 468

// pad adds a Padding option to m's OPT record (its last extra record)
// so that m, packed, is a multiple of paddingBlock bytes (RFC 8467
// section 4.1): over an encrypted transport, a padded query's answer
// must not give away its size.
func pad(m *dns.Msg) {
	opt, ok := m.Extra[len(m.Extra)-1].(*dns.OPT)
	if !ok {
		return
	}
	n := m.Len() + 4 // the option's code and length
	if n+paddingBlock > dns.MaxMsgSize {
		return
	}
	opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, (paddingBlock-n%paddingBlock)%paddingBlock)})
}

// udpSize is the largest UDP reply we send: what the client accepts, but
// never above our own 1232 bytes, so answers are not fragmented (DNS flag
// day 2020); larger ones are truncated and the client retries over TCP.
func udpSize(opt *dns.OPT) int {
	if opt == nil {
		return dns.MinMsgSize
	}
	return clampUDPSize(int(opt.UDPSize()))
}

// clampUDPSize bounds a client's advertised UDP size to [512, upstream.EDNSSize].
func clampUDPSize(size int) int { return min(max(size, dns.MinMsgSize), upstream.EDNSSize) }
