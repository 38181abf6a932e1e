// Package fault holds the actions a scenario rule can take, one file per
// fault, listed in table.go. A fault decides what the client gets back and
// returns it as an Outcome; it never writes to the network, so every fault
// is testable without sockets, and only the pipeline (injector/respond.go)
// writes what the faults decide.
package fault

import (
	"context"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Request is the query a fault acts on.
type Request struct {
	// Msg is the client's query. Faults never change it.
	Msg       *dns.Msg
	Name      string // the question's name, lower case
	Type      uint16
	Transport scenarios.Transport
	Client    netip.Addr
	DO        bool // the query's DNSSEC OK bit: a signed zone's answer carries its signatures
}

// Source answers queries normally: from the zones, then upstream.
type Source interface {
	// Resolve returns a new reply to req that the caller owns; an error
	// means no answer could be had (the caller answers SERVFAIL).
	Resolve(ctx context.Context, req *Request) (*dns.Msg, error)
	// NegativeSOA returns a new SOA record for the authority section of a
	// negative answer about name.
	NegativeSOA(name string) dns.RR
}

// Outcome is what the server sends back: exactly one of Msg, Raw, Drop or
// HTTP.
type Outcome struct {
	Msg  *dns.Msg   // a reply, owned by the receiver
	Raw  []byte     // bytes sent as they are
	Drop bool       // nothing is sent: the client times out
	HTTP *HTTPError // over DoH, an HTTP error instead of a DNS answer
	// Next are more messages after Msg: a zone transfer, over a stream.
	Next []*dns.Msg
}

// HTTPError is an HTTP status sent to a DoH query (http-status), with an
// optional Retry-After.
type HTTPError struct {
	Status     int
	RetryAfter time.Duration
}

// Fault is one action of a rule.
type Fault interface {
	// Act returns what the client gets for req. It may consult src for the
	// normal answer; it must not change req.
	Act(ctx context.Context, req *Request, src Source) (Outcome, error)
}

// ChainPointFault is a Fault that can act at a name an answer's CNAME
// chain reaches (scenarios.ActionInfo.AtChainPoint): the answer keeps its
// chain up to that name, and the fault says how it ends there. The faults
// of the other actions take the whole answer, as for a query of the name.
type ChainPointFault interface {
	Fault
	// ActAtChainPoint ends m's chain at req's name: m.Answer[:chain] are
	// the records that lead to it, the rest what the normal answer had.
	ActAtChainPoint(ctx context.Context, req *Request, src Source, m *dns.Msg, chain int) error
}

// Reply starts a reply to req with rcode: the client's ID, question (with
// its casing), RD and CD. RA is the writer's to set: it says whether the
// server recurses (forwards), whatever the answer.
func Reply(req *Request, rcode int) *dns.Msg {
	q := req.Msg
	m := &dns.Msg{MsgHdr: dns.MsgHdr{
		Id: q.Id, Response: true, Opcode: q.Opcode, Rcode: rcode,
		RecursionDesired: q.RecursionDesired, CheckingDisabled: q.CheckingDisabled,
	}}
	if len(q.Question) > 0 {
		// Shared with the query, read-only: one allocation fewer per reply.
		m.Question = q.Question[:1:1]
	}
	return m
}
