package fault

import (
	"math"

	"github.com/miekg/dns"
)

// SetTTL rewrites every TTL of m to ttl, and the negative TTL (the SOA's
// MINIMUM) of negative answers, so caching can be steered by a rule. It
// copies each record before changing it: answers may share records with
// the zones, which are read-only.
func SetTTL(m *dns.Msg, ttl uint32) {
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for i, rr := range section {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rr = dns.Copy(rr)
			rr.Header().Ttl = ttl
			if soa, ok := rr.(*dns.SOA); ok {
				soa.Minttl = ttl
			}
			section[i] = rr
		}
	}
}

// Keep trims the answer to its first n records of qtype, keeping the
// records of other types (the CNAMEs leading to them): a shrinking answer
// set, as when a load balancer loses nodes.
func Keep(m *dns.Msg, qtype uint16, n int) {
	kept, seen := m.Answer[:0], 0
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == qtype {
			if seen >= n {
				continue
			}
			seen++
		}
		kept = append(kept, rr)
	}
	m.Answer = kept
}

// ScaleTTL divides every TTL of m, and the negative TTL of negative
// answers, by speed, rounding up, so a timeline replayed speed times
// faster is cached speed times shorter: at --speed 60 a 300 s record is
// served with TTL 5. A TTL of 0 (do not cache) stays 0; any other is at
// least 1. Records are copied before they change, as in SetTTL.
func ScaleTTL(m *dns.Msg, speed float64) {
	scale := func(ttl uint32) uint32 {
		if ttl == 0 {
			return 0
		}
		return uint32(max(math.Ceil(float64(ttl)/speed), 1))
	}
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for i, rr := range section {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rr = dns.Copy(rr)
			rr.Header().Ttl = scale(rr.Header().Ttl)
			if soa, ok := rr.(*dns.SOA); ok {
				soa.Minttl = scale(soa.Minttl)
			}
			section[i] = rr
		}
	}
}
