package injector

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/scenarios"
)

// query is one client query as the pipeline sees it, from arrival to
// answer.
type query struct {
	req    fault.Request
	opt    *dns.OPT // the client's EDNS0 record, if any
	src    querySource
	served dns.ResponseWriter

	// arrived is the arrival time by the server's clock (Config.Now), for
	// the timeline; began is by the wall clock, for the latency. One read
	// serves both on the real clock.
	arrived, began time.Time
	// charged is the client prefix that pays for the answer's time, for
	// a signed answer over UDP (limitSigned); invalid otherwise.
	charged netip.Addr
}

// detacher is a ResponseWriter (a batched UDP one) whose goroutine can go
// on to other queries while this one waits on the network.
type detacher interface{ Detach() }

func (p *pipeline) newQuery(w dns.ResponseWriter, r *dns.Msg, t scenarios.Transport) *query {
	q := &query{req: fault.Request{Msg: r, Transport: t, Client: clientOf(w)}, opt: r.IsEdns0(), served: w}
	q.began = time.Now()
	q.arrived = q.began
	if !p.realClock {
		q.arrived = p.cfg.Now()
	}
	q.src.detacher, _ = w.(detacher)
	if len(r.Question) == 1 {
		q.req.Name = lower(r.Question[0].Name)
		q.req.Type = r.Question[0].Qtype
		q.req.DO = q.opt != nil && q.opt.Do()
	}
	return q
}

// clientOf is the client's address, IPv4-mapped addresses unmapped.
func clientOf(w dns.ResponseWriter) netip.Addr {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// matchQuery is what the rules match a query on; the one place a
// match.Query is built from a query's parts.
func matchQuery(name string, qtype uint16, client netip.Addr, t scenarios.Transport) match.Query {
	return match.Query{Name: name, Type: qtype, Client: client, Transport: t}
}

// querySource is the plan's source as one query's faults see it: before
// it waits on an upstream it detaches the query from a batch's goroutine,
// so batching stays out of the fault API.
type querySource struct {
	*source
	detacher detacher // nil: the query has a goroutine of its own
}

var _ fault.Source = querySource{}

// Resolve implements fault.Source.
func (s querySource) Resolve(ctx context.Context, req *fault.Request) (*dns.Msg, error) {
	m := s.local(req)
	if m == nil {
		s.detach()
		return s.forward(ctx, req)
	}
	if target := s.chaseTarget(req, m); target != "" {
		s.detach()
		end, err := s.forward(ctx, requestFor(req, target))
		if err != nil {
			return nil, err
		}
		return chased(m, end), nil
	}
	return m, nil
}

// detach frees the batch's goroutine before the query waits.
func (s querySource) detach() {
	if s.detacher != nil {
		s.detacher.Detach()
	}
}

// lower returns name in ASCII lower case, without allocating when it
// already is.
func lower(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}
