package injector

import (
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
)

// Faults follow the resolution path. Real services rarely ask for the
// failing name itself: api.shop.example is a CNAME to a load balancer or
// to dynamodb.us-east-1.amazonaws.com. When no rule takes the query, each
// name its answer reaches through a CNAME (or DNAME) chain is matched, in
// order, for the query's type; the first rule that takes one decides at
// that point of the chain. Actions that act at a chain point (the action
// table's AtChainPoint: pass, nxdomain, empty, answer) keep the chain up
// to the name; the others take the whole answer, as they would a query
// for the name. A rule with via_cname: false never takes a chain's name.

// chainTargets lists the names m's CNAME records lead to from qname, in
// order. An answer without CNAMEs costs one pass over its records.
func chainTargets(m *dns.Msg, qname string) []string {
	var out []string
	name := qname
	for range maxChainTargets {
		next := ""
		for _, rr := range m.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
				next = lower(c.Target)
				break
			}
		}
		if next == "" {
			break
		}
		out = append(out, next)
		name = next
	}
	return out
}

// maxChainTargets bounds the names of a chain that are matched, so a
// looping answer from upstream ends.
const maxChainTargets = 16

// followChain lets the rules take a name that the normal answer in v
// reaches through a CNAME chain. It returns v as the first rule that takes
// one made it, and the delay that rule adds.
func (p *pipeline) followChain(q *query, v verdict) (verdict, time.Duration) {
	m := v.out.Msg
	if v.err != nil || m == nil || v.state == nil {
		return v, 0
	}
	targets := chainTargets(m, q.req.Name)
	if len(targets) == 0 {
		return v, 0
	}
	st := v.state
	for _, t := range targets {
		mq := matchQuery(t, q.req.Type, q.req.Client, q.req.Transport)
		if d := p.decideRule(st, &mq, q.arrived, forChain); d.rule != nil {
			rule := d.rule
			rule.took(q.req.Type)
			v.rule, v.action, v.adhoc, v.via = rule.spec.Name, string(rule.spec.Action), d.adhoc, t
			return p.actAtChainPoint(q, v, rule, t), rule.delay(st.plan.seed)
		}
	}
	return v, 0
}

// actAtChainPoint runs rule, which took t, a name the answer's chain
// reaches: a fault that acts at a chain point ends the chain there, and
// the rule's modifiers change the records from t on; any other takes the
// whole answer, as for a query of the name.
func (p *pipeline) actAtChainPoint(q *query, v verdict, rule *rulePlan, t string) verdict {
	cf, ok := rule.fault.(fault.ChainPointFault)
	if !ok {
		return p.act(q, v, rule)
	}
	m := v.out.Msg
	chain := len(chainUpTo(m.Answer, t))
	if err := cf.ActAtChainPoint(p.ctx, requestFor(&q.req, t), q.src, m, chain); err != nil {
		v.out, v.err = fault.Outcome{}, err
		return v
	}
	p.modify(q, &v, rule.spec, m, chain, t)
	return v
}

// chainUpTo returns the records of answer up to the one that leads to t
// (a CNAME, with the DNAME it was synthesised from before it).
func chainUpTo(answer []dns.RR, t string) []dns.RR {
	for i, rr := range answer {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Target, t) {
			return answer[: i+1 : i+1]
		}
	}
	return answer[:0:0]
}

// requestFor is req asked for name instead.
func requestFor(req *fault.Request, name string) *fault.Request {
	msg := req.Msg.Copy()
	msg.Question[0].Name = name
	next := *req
	next.Msg, next.Name = msg, name
	return &next
}
