package injector

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnssec"
	"github.com/dnsfault/dnsfault/injector/ratelimit"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/injector/zone"
)

// upstreamSOAs finds the SOA that a real negative answer about a name
// outside the zones carries: its zone's, as the upstream gives it. A
// resolver caches the negative answer by that SOA, so a fault must not
// make one up where a real one can be had (issue 26).
//
// The upstream is asked once per name's parent (or per apex, when the
// name is one) and its answer kept for its negative TTL, so a flood of
// random names under one parent costs one question. When the upstream
// fails, the made-up SOA stands in, and nobody is asked for a while.
type upstreamSOAs struct {
	fwd upstream.Forwarder
	// asks bounds the questions to the upstream, all clients together: a
	// flood of names under many parents gets the made-up SOA past it,
	// never a connection to the upstream per query.
	asks *ratelimit.Limiter

	mu sync.Mutex
	// known maps a name to its zone's negative SOA: a parent for the
	// names below it, or an apex for itself.
	known     map[string]knownSOA
	failUntil time.Time // the upstream failed: do not ask before then
}

// knownSOA is an SOA learnt from the upstream, and until when it holds.
type knownSOA struct {
	soa   *dns.SOA
	until time.Time
}

// newUpstreamSOAs asks fwd for at most soaAsksPerSecond SOAs a second,
// by the server's clock now.
func newUpstreamSOAs(fwd upstream.Forwarder, now func() time.Time) *upstreamSOAs {
	return &upstreamSOAs{fwd: fwd, asks: ratelimit.New(soaAsksPerSecond, soaAsksPerSecond, now)}
}

const (
	// soaAsksPerSecond bounds the SOA questions to the upstream: far more
	// parents a second than a drill's names have, far fewer than a flood.
	soaAsksPerSecond = 50
	// maxKnownSOAs bounds the cache: a flood of names under many parents
	// cannot grow it past this.
	maxKnownSOAs = 10000
	// soaFailBackoff is how long the made-up SOA stands in after the
	// upstream failed to answer, so faults are not slowed by a dead one.
	soaFailBackoff = 10 * time.Second
)

// negativeSOA returns a copy of the SOA for a negative answer about name.
func (u *upstreamSOAs) negativeSOA(ctx context.Context, name string) dns.RR {
	name = lower(name)
	parent := dnssec.Parent(name)
	now := time.Now()
	u.mu.Lock()
	for _, key := range []string{name, parent} {
		if k, ok := u.known[key]; ok && now.Before(k.until) && dns.IsSubDomain(k.soa.Hdr.Name, name) {
			u.mu.Unlock()
			return dns.Copy(k.soa)
		}
	}
	failing := now.Before(u.failUntil)
	u.mu.Unlock()
	if !failing && (u.asks == nil || u.asks.Allow(netip.Addr{})) {
		if soa := u.ask(ctx, name); soa != nil {
			return soa
		}
	}
	return zone.SyntheticNegativeSOA(name)
}

// ask asks the upstream for name's SOA and keeps its zone's. A name that
// is an apex answers with its own SOA; any other with its zone's in the
// authority section.
func (u *upstreamSOAs) ask(ctx context.Context, name string) dns.RR {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeSOA)
	// Over TCP, a connection of its own: a fault on a CNAME chain's
	// target is answered on the goroutine that reads the shared UDP
	// sockets' answers (forwardAsync), which must not wait on them.
	resp, err := u.fwd.Forward(ctx, q, true)
	var soa *dns.SOA
	if err == nil && (resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError) {
		for _, rr := range append(append([]dns.RR{}, resp.Answer...), resp.Ns...) {
			if s, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(s.Hdr.Name, name) {
				soa = dns.Copy(s).(*dns.SOA)
				break
			}
		}
	}
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if soa == nil {
		if err != nil {
			u.failUntil = now.Add(soaFailBackoff)
		}
		return nil
	}
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl) // the negative TTL (RFC 2308)
	key := dnssec.Parent(name)
	if strings.EqualFold(soa.Hdr.Name, name) {
		key = name // an apex: the names below may be in it or deeper
	}
	if len(u.known) >= maxKnownSOAs {
		clear(u.known)
	}
	if u.known == nil {
		u.known = map[string]knownSOA{}
	}
	u.known[key] = knownSOA{soa: soa, until: now.Add(time.Duration(max(soa.Hdr.Ttl, 1)) * time.Second)}
	return dns.Copy(soa)
}
