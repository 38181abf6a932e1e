package injector

import (
	"context"
	"errors"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/injector/zone"
)

// source answers normally: from the zones when the name is inside one
// (authoritative, AA set), otherwise from upstream.
type source struct {
	zones   *zone.Set
	fwd     upstream.Forwarder
	observe func(took time.Duration, err error) // upstream latency, for metrics
}

var _ fault.Source = (*source)(nil)

// Resolve implements fault.Source.
func (s *source) Resolve(ctx context.Context, req *fault.Request) (*dns.Msg, error) {
	if res, ok := s.zones.Lookup(req.Name, req.Type); ok {
		m := fault.Reply(req, res.Rcode)
		m.Authoritative = true
		m.Answer, m.Ns = res.Answer, res.Ns
		return m, nil
	}
	began := time.Now()
	resp, err := s.fwd.Forward(ctx, req.Msg, req.TCP)
	if errors.Is(err, upstream.ErrNone) {
		return fault.Reply(req, dns.RcodeRefused), nil
	}
	s.observe(time.Since(began), err)
	if err != nil {
		return nil, err
	}
	resp.RecursionAvailable = true
	removeOPT(resp) // the writer adds our own
	return resp, nil
}

// NegativeSOA implements fault.Source.
func (s *source) NegativeSOA(name string) dns.RR { return s.zones.NegativeSOA(name) }

func removeOPT(m *dns.Msg) {
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
}
