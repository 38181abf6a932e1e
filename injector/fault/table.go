package fault

import (
	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// table lists the fault each action is built from. An action is added to
// scenarios' action table and here; its fault gets a file of its own.
var table = map[scenarios.Action]func(r *scenarios.Rule) Fault{
	scenarios.Pass:     func(*scenarios.Rule) Fault { return Pass{} },
	scenarios.NXDomain: func(*scenarios.Rule) Fault { return Negative{Code: dns.RcodeNameError} },
	scenarios.ServFail: func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeServerFailure} },
	scenarios.Refused:  func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeRefused} },
	scenarios.NotImp:   func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeNotImplemented} },
	scenarios.FormErr:  func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeFormatError} },
	scenarios.Empty:    func(*scenarios.Rule) Fault { return Negative{Code: dns.RcodeSuccess} },
	scenarios.Drop:     func(*scenarios.Rule) Fault { return Drop{} },
	scenarios.Answer:   func(r *scenarios.Rule) Fault { return Answer{Records: r.Records} },
	scenarios.Truncate: func(*scenarios.Rule) Fault { return Truncate{} },
	scenarios.Garbage:  func(*scenarios.Rule) Fault { return Garbage{} },
	scenarios.TLSFail:  func(*scenarios.Rule) Fault { return TLSFail{} },
	scenarios.HTTPStatus: func(r *scenarios.Rule) Fault {
		return HTTPStatus{Status: r.HTTPStatus, RetryAfter: r.RetryAfter}
	},
}

// For returns the fault of a rule's action, or nil for an action without
// one (a bug that TestEveryActionHasAFault catches).
func For(r *scenarios.Rule) Fault {
	build := table[r.Action]
	if build == nil {
		return nil
	}
	return build(r)
}
