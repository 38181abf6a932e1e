package injector

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Event is one answered query, as the metrics, the query log and observers
// (Config.Observe) see it.
type Event struct {
	// Time is when the query arrived, by the server's clock (Config.Now).
	Time   time.Time
	Client netip.Addr
	Name   string // lower case, fully qualified
	Type   uint16
	// Transport is how the query came.
	Transport scenarios.Transport
	Phase     string // "" when faults were off
	Rule      string // "" when no rule took the query
	AdHoc     bool   // Rule is an ad-hoc rule (Server.AddRule)
	// Via, when set, is the name of the answer's CNAME chain that Rule
	// took (chain.go); Name is still the name asked.
	Via    string
	Action string
	// DNSSEC is the rule's DNSSEC fault, when it broke the answer (a
	// query with DO, in a signed zone).
	DNSSEC string
	// Sent is what went back: SentMessage, SentNothing or SentGarbage.
	Sent  string
	Rcode int // when Sent is SentMessage
	// TTL is how many seconds the answer may be cached: the lowest TTL of
	// its records, or the negative TTL of an NXDOMAIN or NODATA answer;
	// -1 when it may not be cached (SERVFAIL, no answer).
	TTL int64
	// Answer is the answer section sent, shared with the reply: read it,
	// never change it or keep it past Observe.
	Answer  []dns.RR
	Latency time.Duration
	// Err says why the normal answer failed, when it did.
	Err error
	// Handshake is the tls-fail mode (close, wrong-name, slow) when the
	// event is a TLS handshake a rule took (Sent is SentHandshake): no
	// question was asked, so Name is "" and Type 0.
	Handshake string
}

// What a query got back.
const (
	SentMessage = "message"
	SentNothing = "nothing"
	SentGarbage = "garbage"
	SentHTTP    = "http" // an HTTP error status over DoH; Rcode holds it
	// SentHandshake is a TLS handshake that a tls-fail rule took, before
	// any question: Handshake says how.
	SentHandshake = "handshake"
)

// RcodeName is the rcode sent, "none" for a drop, "garbage" for garbage,
// "http-503" for an HTTP status, "tls-close" for a handshake a tls-fail
// rule failed.
func (e *Event) RcodeName() string {
	switch e.Sent {
	case SentMessage:
		return dns.RcodeToString[e.Rcode]
	case SentGarbage:
		return "garbage"
	case SentHTTP:
		return "http-" + strconv.Itoa(e.Rcode)
	case SentHandshake:
		return "tls-" + e.Handshake
	default:
		return "none"
	}
}

// cacheTTL is how long a resolver may cache m (RFC 2308 for negative
// answers), or -1.
func cacheTTL(m *dns.Msg) int64 {
	if m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
		ttl := int64(-1)
		for _, rr := range m.Answer {
			if t := int64(rr.Header().Ttl); ttl < 0 || t < ttl {
				ttl = t
			}
		}
		return ttl
	}
	if m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return int64(min(soa.Hdr.Ttl, soa.Minttl))
			}
		}
	}
	return -1
}
