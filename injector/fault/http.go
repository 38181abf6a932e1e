package fault

import (
	"context"
	"time"
)

// HTTPStatus answers a DoH query with an HTTP error status (a 503 from an
// overloaded DoH front end, say), and Retry-After when set. Rules with it
// match only DoH queries (scenarios checks), so other transports never
// meet it.
type HTTPStatus struct {
	Status     int
	RetryAfter time.Duration
}

var _ Fault = HTTPStatus{}

// Act implements Fault.
func (f HTTPStatus) Act(context.Context, *Request, Source) (Outcome, error) {
	return Outcome{HTTP: &HTTPError{Status: f.Status, RetryAfter: f.RetryAfter}}, nil
}
