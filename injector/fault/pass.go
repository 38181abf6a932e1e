package fault

import (
	"context"

	"github.com/miekg/dns"
)

// Pass answers normally.
type Pass struct{}

var _ ChainPointFault = Pass{}

// Act implements Fault.
func (Pass) Act(ctx context.Context, req *Request, src Source) (Outcome, error) {
	m, err := src.Resolve(ctx, req)
	return Outcome{Msg: m}, err
}

// ActAtChainPoint implements ChainPointFault: the answer as it is, for
// the rule's modifiers to change from that name on.
func (Pass) ActAtChainPoint(context.Context, *Request, Source, *dns.Msg, int) error { return nil }
