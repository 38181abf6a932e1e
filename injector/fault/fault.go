// Package fault holds the actions a scenario rule can take. A fault decides
// what the client gets back and returns it as an Outcome; it never writes to
// the network, so every fault is testable without sockets and the server
// has one place that writes.
package fault

import (
	"context"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Request is the query a fault acts on.
type Request struct {
	// Msg is the client's query. Faults never change it.
	Msg    *dns.Msg
	Name   string // the question's name, lower case
	Type   uint16
	TCP    bool
	Client netip.Addr
	// Detacher, when set, is told before the answer waits on the network
	// (an upstream), so the server can go on with other queries meanwhile.
	Detacher Detacher
}

// Detacher lets a server's goroutine go on to other queries while one
// query waits; see Request.Detacher.
type Detacher interface{ Detach() }

// Source answers queries normally: from the zones, then upstream.
type Source interface {
	// Resolve returns a new reply to req that the caller owns; an error
	// means no answer could be had (the caller answers SERVFAIL).
	Resolve(ctx context.Context, req *Request) (*dns.Msg, error)
	// NegativeSOA returns a new SOA record for the authority section of a
	// negative answer about name.
	NegativeSOA(name string) dns.RR
}

// Outcome is what the server sends back: exactly one of Msg, Raw or Drop.
type Outcome struct {
	Msg  *dns.Msg // a reply, owned by the receiver
	Raw  []byte   // bytes sent as they are
	Drop bool     // nothing is sent: the client times out
}

// Fault is one action of a rule.
type Fault interface {
	// Act returns what the client gets for req. It may consult src for the
	// normal answer; it must not change req.
	Act(ctx context.Context, req *Request, src Source) (Outcome, error)
}

// table lists the fault each action is built from.
var table = map[scenarios.Action]func(r *scenarios.Rule) Fault{
	scenarios.Pass:     func(*scenarios.Rule) Fault { return Pass{} },
	scenarios.NXDomain: func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeNameError, Negative: true} },
	scenarios.ServFail: func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeServerFailure} },
	scenarios.Refused:  func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeRefused} },
	scenarios.NotImp:   func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeNotImplemented} },
	scenarios.FormErr:  func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeFormatError} },
	scenarios.Empty:    func(*scenarios.Rule) Fault { return Rcode{Code: dns.RcodeSuccess, Negative: true} },
	scenarios.Drop:     func(*scenarios.Rule) Fault { return Drop{} },
	scenarios.Answer:   func(r *scenarios.Rule) Fault { return Answer{Records: r.Records} },
	scenarios.Truncate: func(*scenarios.Rule) Fault { return Truncate{} },
	scenarios.Garbage:  func(*scenarios.Rule) Fault { return Garbage{} },
}

// For returns the fault of a rule's action. Every action that scenarios
// accepts has one: a missing entry is a bug caught by the tests.
func For(r *scenarios.Rule) Fault { return table[r.Action](r) }

// Reply starts a reply to req with rcode: the client's ID, question (with
// its casing), RD and CD, and RA set, since dnsfault stands in for a
// recursive resolver.
func Reply(req *Request, rcode int) *dns.Msg {
	q := req.Msg
	m := &dns.Msg{MsgHdr: dns.MsgHdr{
		Id: q.Id, Response: true, Opcode: q.Opcode, Rcode: rcode, RecursionAvailable: true,
		RecursionDesired: q.RecursionDesired, CheckingDisabled: q.CheckingDisabled,
	}}
	if len(q.Question) > 0 {
		// Shared with the query, read-only: one allocation fewer per reply.
		m.Question = q.Question[:1:1]
	}
	return m
}
