package fault

import "context"

// Drop sends nothing: the client times out.
type Drop struct{}

var _ Fault = Drop{}

// Act implements Fault.
func (Drop) Act(context.Context, *Request, Source) (Outcome, error) {
	return Outcome{Drop: true}, nil
}
