package fault

import (
	"context"

	"github.com/miekg/dns"
)

// Truncate answers UDP with TC set and no records, so the client must retry
// over a stream transport, where it answers normally.
type Truncate struct{}

var _ Fault = Truncate{}

// Act implements Fault.
func (Truncate) Act(ctx context.Context, req *Request, src Source) (Outcome, error) {
	if req.Transport.Stream() {
		return Pass{}.Act(ctx, req, src)
	}
	m := Reply(req, dns.RcodeSuccess)
	m.Truncated = true
	return Outcome{Msg: m}, nil
}
