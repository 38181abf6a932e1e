package injector

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnstap"
	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/ratelimit"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/injector/zone"
)

// source answers normally: from the zones when the name is inside one
// (authoritative, AA set), otherwise from upstream.
type source struct {
	zones   *zone.Set
	fwd     upstream.Forwarder
	limiter *ratelimit.Limiter // nil: no limit
	metrics *metrics

	prepacked prepackedSet // the zones' answers, packed (see ServeRaw)
	// recurses says whether names outside the zones are forwarded: every
	// answer's RA says so (an authority alone, upstream none, says RA 0).
	recurses bool
	// soas are the real SOAs of the zones outside ours, for faults there.
	soas *upstreamSOAs
	tap  *dnstap.Writer // Config.Dnstap; nil: none
}

// forward asks upstream for req's answer, waiting for it.
func (s *source) forward(ctx context.Context, req *fault.Request) (*dns.Msg, error) {
	began := time.Now()
	resp, err := s.fwd.Forward(ctx, req.Msg, req.Transport.Stream())
	return s.forwarded(req.Msg, resp, err, began)
}

// local answers req without the network: classes other than IN, names in
// the zones, ANY, and clients over the forwarding rate. It returns nil for
// a query to forward.
func (s *source) local(req *fault.Request) *dns.Msg {
	if req.Msg.Question[0].Qclass != dns.ClassINET {
		if m := serverIdentity(req); m != nil {
			return m
		}
		return fault.Reply(req, dns.RcodeRefused) // as an authority for IN only
	}
	if res, ok := s.zones.Lookup(req.Name, req.Type, req.DO); ok {
		m := fault.Reply(req, res.Rcode)
		m.Authoritative = res.Authoritative
		m.Answer, m.Ns, m.Extra = res.Answer, res.Ns, res.Extra
		return m
	}
	if _, none := s.fwd.(upstream.None); none {
		return fault.Reply(req, dns.RcodeRefused)
	}
	// ANY gets a minimal answer (RFC 8482): it is an amplifier's favourite.
	if req.Type == dns.TypeANY {
		return minimalANY(req)
	}
	// Only forwarded queries are limited: they are what could amplify.
	if s.limiter != nil && !s.limiter.Allow(req.Client) {
		s.metrics.rateLimited.Inc()
		return fault.Reply(req, dns.RcodeRefused)
	}
	return nil
}

// chaseTarget returns the name a zone's answer m leaves the zones for,
// when the server should resolve it too: it recurses (forwards), the
// client asked for recursion, and the answer is a CNAME chain that ends
// outside the zones without the queried type. A resolver hands the client
// the whole chain; an authority alone (upstream none, or RD clear) stops
// where its data does.
func (s *source) chaseTarget(req *fault.Request, m *dns.Msg) string {
	if !s.recurses || !req.Msg.RecursionDesired || m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 || req.Type == dns.TypeCNAME {
		return ""
	}
	last, ok := m.Answer[len(m.Answer)-1].(*dns.CNAME)
	if !ok {
		return ""
	}
	target := lower(last.Target)
	if s.zones.Contains(target) {
		return ""
	}
	return target
}

// chased appends the answer to the chase of a chain (end) to m, the
// zone's part of it. The whole is no longer authoritative data alone.
func chased(m, end *dns.Msg) *dns.Msg {
	m.Rcode = end.Rcode
	m.Answer = append(m.Answer, end.Answer...)
	m.Ns, m.Extra = end.Ns, nil
	m.Authoritative = false
	return m
}

// forwarded turns an upstream's answer to query into ours.
func (s *source) forwarded(query, resp *dns.Msg, err error, began time.Time) (*dns.Msg, error) {
	s.metrics.observeUpstream(time.Since(began), err)
	if s.tap != nil {
		s.tapForwarder(query, resp, began)
	}
	if err != nil {
		return nil, err
	}
	upstream.RemoveOPT(resp) // the writer adds our own
	return resp, nil
}

// minimalANY is the RFC 8482 answer to ANY for a name we would forward:
// one synthesised HINFO record.
func minimalANY(req *fault.Request) *dns.Msg {
	m := fault.Reply(req, dns.RcodeSuccess)
	m.Answer = []dns.RR{&dns.HINFO{
		Hdr: dns.RR_Header{Name: req.Msg.Question[0].Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3600},
		Cpu: "RFC8482",
	}}
	return m
}

// NegativeSOA implements fault.Source's method for querySource: the
// zone's SOA for a name in the zones; for one outside them the real one
// from upstream, or a made-up one when there is no upstream to ask.
func (s *source) NegativeSOA(name string) dns.RR {
	if !s.recurses || s.soas == nil || s.zones.Contains(name) {
		return s.zones.NegativeSOA(name)
	}
	return s.soas.negativeSOA(context.Background(), name)
}

// serverIdentity answers CH TXT id.server and hostname.bind (RFC 4892)
// with the host's name, as Knot and NSD do, so an operator can tell which
// of several replicas answered; nil for any other question. The version
// (version.bind, version.server) is not given away.
func serverIdentity(req *fault.Request) *dns.Msg {
	q := req.Msg.Question[0]
	if q.Qclass != dns.ClassCHAOS || (q.Qtype != dns.TypeTXT && q.Qtype != dns.TypeANY) || (req.Name != "id.server." && req.Name != "hostname.bind.") {
		return nil
	}
	m := fault.Reply(req, dns.RcodeSuccess)
	m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS}, Txt: []string{hostname()}}}
	return m
}

// hostname is the host's name, read once.
var hostname = sync.OnceValue(func() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "dnsfault"
	}
	return name
})
