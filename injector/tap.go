package injector

import (
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnstap"
	"github.com/dnsfault/dnsfault/injector/upstream"
)

// The dnstap sink (Config.Dnstap): each client's query and answer, and
// each query forwarded upstream, as dnstap-read and dnstap-ldns read
// them. The answer's frame says in its extra what dnsfault did.

// tapClient writes q's exchange: the query as it came, the answer as
// sent (sent false: none reached the client).
func (p *pipeline) tapClient(q *query, v *verdict, ev *Event, sent bool) {
	query, err := q.req.Msg.Pack()
	if err != nil {
		return
	}
	e := &dnstap.Exchange{Query: query, Asked: q.began, Answered: time.Now(), Protocol: q.req.Transport.String(), Phase: ev.Phase, Rule: ev.Rule, Action: ev.Action}
	e.From, e.To = addrPort(q.served.RemoteAddr()), addrPort(q.served.LocalAddr())
	if sent {
		switch {
		case v.out.Raw != nil:
			e.Response = v.out.Raw
		case v.out.Msg != nil:
			e.Response, _ = v.out.Msg.Pack()
		}
	}
	p.cfg.Dnstap.Client(e)
}

// tapPrepacked writes the exchange of a prepacked answer.
func (p *pipeline) tapPrepacked(query, answer []byte, ev *Event, from netip.AddrPort, began time.Time) {
	p.cfg.Dnstap.Client(&dnstap.Exchange{Query: query, Response: answer, Asked: began, Answered: time.Now(),
		From: from, To: p.udpLocal, Protocol: "udp", Phase: ev.Phase, Rule: ev.Rule, Action: ev.Action})
}

// tapForwarder writes a query forwarded upstream and its answer (resp
// nil: none came).
func (s *source) tapForwarder(query, resp *dns.Msg, began time.Time) {
	e := &dnstap.Exchange{Asked: began, Answered: time.Now(), Protocol: "udp"}
	var err error
	if e.Query, err = query.Pack(); err != nil {
		return
	}
	if resp != nil {
		e.Response, _ = resp.Pack()
	}
	if addrs := upstream.AddrsOf(s.fwd); len(addrs) > 0 {
		e.To, _ = netip.ParseAddrPort(addrs[0])
	}
	s.tap.Forwarder(e)
}

// addrPort is a listener's address as dnstap takes it.
func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	if a != nil {
		ap, _ := netip.ParseAddrPort(a.String())
		return ap
	}
	return netip.AddrPort{}
}
