package fault

import (
	"context"

	"github.com/miekg/dns"
)

// Rcode answers with an rcode and no records (servfail, refused, notimp,
// formerr): at a CNAME chain's name, the whole answer, as for a query of
// the name.
type Rcode struct {
	Code int
}

var _ Fault = Rcode{}

// Act implements Fault.
func (f Rcode) Act(_ context.Context, req *Request, _ Source) (Outcome, error) {
	return Outcome{Msg: Reply(req, f.Code)}, nil
}

// Negative is a negative answer (NXDOMAIN, or NOERROR with no records)
// with a SOA, so resolvers can cache it for its negative TTL as they
// would a real one.
type Negative struct {
	Code int
}

var _ ChainPointFault = Negative{}

// Act implements Fault.
func (f Negative) Act(_ context.Context, req *Request, src Source) (Outcome, error) {
	m := Reply(req, f.Code)
	m.Ns = []dns.RR{src.NegativeSOA(req.Name)}
	return Outcome{Msg: m}, nil
}

// ActAtChainPoint implements ChainPointFault: the chain up to the name,
// then the rcode (RFC 6604: the rcode of the chain's last name) and the
// SOA.
func (f Negative) ActAtChainPoint(_ context.Context, req *Request, src Source, m *dns.Msg, chain int) error {
	m.Rcode = f.Code
	m.Answer, m.Ns, m.Extra = m.Answer[:chain], []dns.RR{src.NegativeSOA(req.Name)}, nil
	return nil
}
