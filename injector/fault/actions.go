package fault

import (
	"context"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Pass answers normally.
type Pass struct{}

// Act implements Fault.
func (Pass) Act(ctx context.Context, req *Request, src Source) (Outcome, error) {
	m, err := src.Resolve(ctx, req)
	return Outcome{Msg: m}, err
}

// Rcode answers with an rcode and no records. Negative answers (NXDOMAIN,
// and NOERROR with no records) carry a SOA so resolvers can cache them for
// its negative TTL, as they would a real one.
type Rcode struct {
	Code     int
	Negative bool
}

// Act implements Fault.
func (f Rcode) Act(_ context.Context, req *Request, src Source) (Outcome, error) {
	m := Reply(req, f.Code)
	if f.Negative {
		m.Ns = []dns.RR{src.NegativeSOA(req.Name)}
	}
	return Outcome{Msg: m}, nil
}

// Drop sends nothing: the client times out.
type Drop struct{}

// Act implements Fault.
func (Drop) Act(context.Context, *Request, Source) (Outcome, error) {
	return Outcome{Drop: true}, nil
}

// Truncate answers UDP with TC set and no records, so the client must retry
// over TCP; over TCP it answers normally.
type Truncate struct{}

// Act implements Fault.
func (Truncate) Act(ctx context.Context, req *Request, src Source) (Outcome, error) {
	if req.TCP {
		return Pass{}.Act(ctx, req, src)
	}
	m := Reply(req, dns.RcodeSuccess)
	m.Truncated = true
	return Outcome{Msg: m}, nil
}

// Garbage sends bytes that do not parse as a DNS message. They start with
// the client's ID and a response header, so the client takes them as the
// reply to its query, and then claim a question whose first label runs past
// the end of the packet.
type Garbage struct{}

// Act implements Fault.
func (Garbage) Act(_ context.Context, req *Request, _ Source) (Outcome, error) {
	raw := []byte{
		byte(req.Msg.Id >> 8), byte(req.Msg.Id),
		0x81, 0x80, // QR, RD, RA, NOERROR
		0, 1, 0, 1, 0, 0, 0, 0, // one question, one answer
		63, // a 63-byte label, of which far fewer bytes follow
	}
	raw = append(raw, "dnsfault-garbage"...)
	return Outcome{Raw: raw}, nil
}

// Answer replies with the rule's records: those of the queried type, and
// CNAMEs. Owners written "@" become the queried name. A CNAME chain that
// ends without a record of the queried type is followed through the normal
// source, as a recursive resolver would.
type Answer struct {
	Records []dns.RR
}

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
	end, err := src.Resolve(ctx, &Request{Msg: q, Name: strings.ToLower(target), Type: req.Type, TCP: req.TCP, Client: req.Client, Detacher: req.Detacher})
	if err != nil {
		return Outcome{}, err
	}
	m.Rcode = end.Rcode
	m.Answer = append(m.Answer, end.Answer...)
	m.Ns = end.Ns
	return Outcome{Msg: m}, nil
}
