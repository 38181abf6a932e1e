package fault

import (
	"context"

	"github.com/miekg/dns"
)

// Rcode answers with an rcode and no records. Negative answers (NXDOMAIN,
// and NOERROR with no records) carry a SOA so resolvers can cache them for
// its negative TTL, as they would a real one.
type Rcode struct {
	Code     int
	Negative bool
}

var _ Fault = Rcode{}

// Act implements Fault.
func (f Rcode) Act(_ context.Context, req *Request, src Source) (Outcome, error) {
	m := Reply(req, f.Code)
	if f.Negative {
		m.Ns = []dns.RR{src.NegativeSOA(req.Name)}
	}
	return Outcome{Msg: m}, nil
}
