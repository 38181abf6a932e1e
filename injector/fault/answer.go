package fault

import (
	"context"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Answer replies with the rule's records: those of the queried type, and
// CNAMEs. Owners written "@" become the queried name. A CNAME chain that
// ends without a record of the queried type is followed through the normal
// source, as a recursive resolver would.
type Answer struct {
	Records []dns.RR
}

var _ ChainPointFault = Answer{}

// Act implements Fault.
func (f Answer) Act(ctx context.Context, req *Request, src Source) (Outcome, error) {
	m := Reply(req, dns.RcodeSuccess)
	target, found := "", false
	for _, rr := range f.Records {
		t := rr.Header().Rrtype
		if t != req.Type && t != dns.TypeCNAME && req.Type != dns.TypeANY {
			continue
		}
		c := dns.Copy(rr)
		if c.Header().Name == scenarios.QueryName {
			c.Header().Name = req.Msg.Question[0].Name
		}
		if cname, ok := c.(*dns.CNAME); ok && t != req.Type {
			target = cname.Target
		} else {
			found = true
		}
		m.Answer = append(m.Answer, c)
	}
	switch {
	case len(m.Answer) == 0:
		m.Ns = []dns.RR{src.NegativeSOA(req.Name)}
	case target != "" && !found:
		return f.follow(ctx, req, src, m, target)
	}
	return Outcome{Msg: m}, nil
}

// follow resolves the end of a CNAME chain and appends its answer.
func (Answer) follow(ctx context.Context, req *Request, src Source, m *dns.Msg, target string) (Outcome, error) {
	q := req.Msg.Copy()
	q.Question[0].Name = target
	next := *req
	next.Msg, next.Name = q, strings.ToLower(target)
	end, err := src.Resolve(ctx, &next)
	if err != nil {
		return Outcome{}, err
	}
	m.Rcode = end.Rcode
	m.Answer = append(m.Answer, end.Answer...)
	m.Ns = end.Ns
	return Outcome{Msg: m}, nil
}

// ActAtChainPoint implements ChainPointFault: the chain up to the name,
// then the rule's records for it.
func (f Answer) ActAtChainPoint(ctx context.Context, req *Request, src Source, m *dns.Msg, chain int) error {
	out, err := f.Act(ctx, req, src)
	if err != nil {
		return err
	}
	m.Rcode = out.Msg.Rcode
	m.Answer, m.Ns, m.Extra = append(m.Answer[:chain:chain], out.Msg.Answer...), out.Msg.Ns, nil
	return nil
}
