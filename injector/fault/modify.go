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

// ScaleTTL divides every TTL of m by speed, rounding up, so a timeline
// replayed speed times faster is cached speed times shorter: at --speed
// 60 a 300 s record is served with TTL 5. A TTL of 0 (do not cache)
// stays 0; any other is at least 1. Records are copied before they
// change, as in SetTTL.
//
// Only TTLs change, never RDATA, so a signed answer still validates: a
// validator takes the lower of the TTL served and the RRSIG's original
// TTL (RFC 4035 section 5.3.3). The negative TTL of a SOA in the
// authority section, min(TTL, MINIMUM) (RFC 2308), is scaled into its
// TTL; its MINIMUM stays as signed.
func ScaleTTL(m *dns.Msg, speed float64) {
	scale := func(ttl uint32) uint32 {
		if ttl == 0 {
			return 0
		}
		return uint32(max(math.Ceil(float64(ttl)/speed), 1))
	}
	for n, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		authority := n == 1
		for i, rr := range section {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rr = dns.Copy(rr)
			ttl := rr.Header().Ttl
			if soa, ok := rr.(*dns.SOA); ok && authority {
				ttl = min(ttl, soa.Minttl)
			}
			rr.Header().Ttl = scale(ttl)
			section[i] = rr
		}
	}
}
