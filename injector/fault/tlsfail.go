package fault

import "context"

// TLSFail fails a TLS handshake (DoT, DoH). It acts before any query is
// read (the injector's listen_tls.go), so a query never meets it; should
// one, it gets no answer.
type TLSFail struct{}

var _ Fault = TLSFail{}

// Act implements Fault.
func (TLSFail) Act(context.Context, *Request, Source) (Outcome, error) {
	return Outcome{Drop: true}, nil
}
