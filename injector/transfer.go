package injector

import (
	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/scenarios"
)

// transfer answers a zone transfer query (AXFR, and IXFR answered as
// AXFR, RFC 1995 section 4), so that Knot or BIND can load a scenario's
// zone as a secondary, and zone checkers can read it. It says false for
// any other query. Transfers follow Knot: over TCP and DoT only (NOTIMP
// over UDP; DoH carries one message per request), and NOTAUTH for a name
// that is no zone's apex. Clients the allow-list refuses never get here.
func (p *pipeline) transfer(q *query) (verdict, bool) {
	if t := q.req.Type; t != dns.TypeAXFR && t != dns.TypeIXFR {
		return verdict{}, false
	}
	if q.req.Transport != scenarios.TCP && q.req.Transport != scenarios.DoT {
		return verdict{out: reply(q, dns.RcodeNotImplemented), action: "notimp"}, true
	}
	records, ok := q.src.zones.Transfer(q.req.Name)
	if !ok {
		return verdict{out: reply(q, dns.RcodeNotAuth), action: "notauth"}, true
	}
	var msgs []*dns.Msg
	size := transferMessageSize // start a message at the first record
	for _, rr := range records {
		if n := dns.Len(rr); size+n > transferMessageSize {
			m := reply(q, dns.RcodeSuccess).Msg
			m.Authoritative = true
			msgs = append(msgs, m)
			size = 0
		}
		last := msgs[len(msgs)-1]
		last.Answer = append(last.Answer, rr)
		size += dns.Len(rr)
	}
	return verdict{out: fault.Outcome{Msg: msgs[0], Next: msgs[1:]}, action: "transfer"}, true
}

// transferMessageSize is how many bytes of records (uncompressed) go in
// one message of a transfer: well within the 65,535 a TCP message may
// hold, with room for the header, question and OPT record.
const transferMessageSize = 16 << 10
