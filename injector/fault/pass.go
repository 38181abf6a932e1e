package fault

import "context"

// Pass answers normally.
type Pass struct{}

var _ Fault = Pass{}

// Act implements Fault.
func (Pass) Act(ctx context.Context, req *Request, src Source) (Outcome, error) {
	m, err := src.Resolve(ctx, req)
	return Outcome{Msg: m}, err
}
