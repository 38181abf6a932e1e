package injector

import (
	"context"
	"errors"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/ratelimit"
	"github.com/dnsfault/dnsfault/scenarios"
)

// pipeline decides and answers queries. It is the specification of a
// query's life: serve reads the query, decide walks the steps below in
// order, and the verdict is finished one of three ways (respond.go, at
// once; delay.go, after a delay; async.go, when an upstream answers).
// Prepacked answers (prepacked.go) skip all of it for the queries no rule
// can take.
type pipeline struct {
	cfg       *Config
	realClock bool    // cfg.Now is time.Now: one clock read per query serves twice
	ttlScale  float64 // TTLs served are divided by it (Config.TTLScale)
	// udpLocal is the UDP listener's address, for dnstap's prepacked
	// frames; invalid on a wildcard address.
	udpLocal netip.AddrPort
	// state is everything a query decides by, swapped whole by control
	// actions (state.go) and read with one atomic load.
	state    atomic.Pointer[runState]
	started  time.Time
	lastBeat atomic.Int64 // unix nanoseconds of the last heartbeat
	obs      observer
	// awaitFirst holds the timeline for the first query, which calls
	// onFirst (Config.StartOnFirstQuery).
	awaitFirst  atomic.Bool
	onFirst     func(time.Time)
	heldStarted atomic.Bool // a held timeline has started, once
	held        heldQueries
	lives       lifetimes
	// ctx ends when shutdown starts, so delayed queries stop waiting and
	// are answered at once.
	ctx    context.Context
	panics atomic.Uint64
	// signing is each client prefix's budget of microseconds for signed
	// answers over UDP (Config.SigningBudget; nil: no bound), and slips
	// alternates its refusals between a truncated answer and none.
	signing *ratelimit.Limiter
	slips   atomic.Uint64
}

// verdict is what the pipeline decided for one query, for the writer and
// the sinks.
type verdict struct {
	out    fault.Outcome
	phase  string // "" when no phase is active
	rule   string // "" when no rule took the query
	adhoc  bool   // the rule is an ad-hoc one
	action string
	ede    *dns.EDNS0_EDE
	err    error // why the normal answer failed, if it did

	// wait, when set, is a UDP query's delay: the rule acts after it,
	// from a timer (see answerLater).
	wait    time.Duration
	pending *rulePlan

	// async, when set, is the source that answers this query without a
	// waiting goroutine (see answerAsync).
	async *source

	state *runState // the state the query was decided in
	via   string    // the name of a CNAME chain the rule took, if any
	// dnssec is the DNSSEC fault that broke the answer, if one did.
	dnssec scenarios.DNSSECFault
}

// serve answers one query that came over transport t.
func (p *pipeline) serve(w dns.ResponseWriter, r *dns.Msg, t scenarios.Transport) {
	p.lives.begin()
	defer p.lives.end()
	defer p.recoverPanic(w, r)
	q := p.newQuery(w, r, t)
	v := p.decide(q)
	switch {
	case v.wait > 0:
		p.answerLater(q, v)
	case v.async != nil:
		p.answerAsync(q, v)
	default:
		p.respond(q, &v)
	}
}

// decide runs the pipeline; each step says why it stands where it does.
func (p *pipeline) decide(q *query) verdict {
	// Malformed questions are refused before anything else looks at them.
	if len(q.req.Msg.Question) != 1 {
		return verdict{out: reply(q, dns.RcodeFormatError), action: "formerr"}
	}
	if q.opt != nil && q.opt.Version() != 0 {
		return verdict{out: reply(q, dns.RcodeBadVers), action: "badvers"}
	}
	// The allow-list comes before faults: a client we do not serve learns
	// nothing about the scenario.
	if !allowed(p.cfg.Allow, q.req.Client) {
		return verdict{out: reply(q, dns.RcodeRefused), action: "refused", ede: &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeProhibited}}
	}
	// A timeline held for the first query starts with this one, which is
	// then decided in it.
	if p.awaitFirst.Load() && p.awaitFirst.CompareAndSwap(true, false) {
		p.onFirst(q.arrived)
	}
	// One atomic load gives the plan, the timeline and the abort state
	// together, so an abort is seen by the very next query.
	st := p.state.Load()
	pl := st.plan
	q.src.source = pl.source
	// Zone transfers hand over the zones as they are: no rule takes them.
	if v, ok := p.transfer(q); ok {
		return v
	}
	if out, limited := p.limitSigned(q, pl.source); limited {
		return verdict{out: out, action: "rate-limited"}
	}
	v := verdict{action: "pass"}
	v.state = st
	mq := matchQuery(q.req.Name, q.req.Type, q.req.Client, q.req.Transport)
	d := p.decideRule(st, &mq, q.arrived, forQuestion)
	rule := d.rule
	v.phase, v.adhoc = d.phase, d.adhoc
	if rule == nil {
		// No rule: answer normally. Over batched UDP, without waiting for
		// an upstream on the goroutine that serves the batch. The names
		// the answer reaches through a CNAME chain may meet a rule still
		// (chain.go).
		if q.src.detacher != nil {
			v.async = pl.source
			return v
		}
		v.out, v.err = fault.Pass{}.Act(p.ctx, &q.req, q.src)
		v, d := p.followChain(q, v)
		if d > 0 && !p.hold(d) {
			return p.droppedHeld(v)
		}
		return p.finish(q, v)
	}
	rule.took(q.req.Type)
	v.rule, v.action = rule.spec.Name, string(rule.spec.Action)
	// The delay comes before the action, so a delayed pass is a slow
	// resolver and a delayed servfail a slow failure.
	if d := rule.delay(pl.seed); d > 0 {
		if q.req.Transport == scenarios.UDP && p.ctx.Err() == nil {
			v.wait, v.pending = d, rule
			return v
		}
		if !p.hold(d) {
			return p.droppedHeld(v)
		}
	}
	return p.act(q, v, rule)
}

// act runs the rule's action and modifiers.
func (p *pipeline) act(q *query, v verdict, rule *rulePlan) verdict {
	v.out, v.err = rule.fault.Act(p.ctx, &q.req, q.src)
	if m := v.out.Msg; v.err == nil && m != nil && (m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError) && q.src.zones.Contains(q.req.Name) {
		m.Authoritative = true // a fault in our zone speaks as its authority
	}
	if v.err == nil && v.out.Msg != nil {
		p.modify(q, &v, rule.spec, v.out.Msg, 0, q.req.Name)
	}
	return p.finish(q, v)
}

// modify applies the rule's modifiers (keep, ttl, ede, dnssec) to the
// answer m its action made for name: to its records from the answer's
// from-th on (past the CNAME chain that led to name; 0 for the whole).
func (p *pipeline) modify(q *query, v *verdict, spec *scenarios.Rule, m *dns.Msg, from int, name string) {
	tail := &dns.Msg{Answer: m.Answer[from:], Ns: m.Ns, Extra: m.Extra}
	if spec.Keep > 0 {
		fault.Keep(tail, q.req.Type, spec.Keep)
	}
	if spec.TTL != nil {
		fault.SetTTL(tail, *spec.TTL)
	}
	m.Answer, m.Ns, m.Extra = append(m.Answer[:from:from], tail.Answer...), tail.Ns, tail.Extra
	if e := spec.EDE; e != nil {
		v.ede = &dns.EDNS0_EDE{InfoCode: e.Code, ExtraText: e.Text}
	}
	if signFault(q, m, spec, name) {
		v.dnssec = spec.DNSSEC
	}
}

// finish turns a failed normal answer into SERVFAIL, saying why in an
// Extended DNS Error so an injected SERVFAIL can be told from a real one.
func (p *pipeline) finish(q *query, v verdict) verdict {
	if v.err != nil {
		p.cfg.Logger.Warn("no answer", "name", q.req.Name, "type", dns.TypeToString[q.req.Type], "err", v.err)
		v.out = reply(q, dns.RcodeServerFailure)
		v.ede = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority, ExtraText: "dnsfault: upstream gave no answer"}
	}
	return v
}

// limitSigned applies Config.SigningBudget: a UDP query with the DO bit
// for a name in a signed zone, from a client prefix whose budget is
// spent, is told to ask over TCP (every second one, an empty answer with
// TC) or not answered at all, before anything is signed or hashed for
// it. A query let through is charged what its answer took (q.charged).
// TCP is bounded by its connections instead.
func (p *pipeline) limitSigned(q *query, src *source) (fault.Outcome, bool) {
	if p.signing == nil || !q.req.DO || q.req.Transport != scenarios.UDP || !src.zones.Signed(q.req.Name) {
		return fault.Outcome{}, false
	}
	prefix := ratelimit.Prefix(q.req.Client)
	if p.signing.Has(prefix) {
		q.charged = prefix
		return fault.Outcome{}, false
	}
	return p.slip(q), true
}

// slip is a limited query's outcome: every second one an empty answer
// with TC, the others none, as response rate limiting does.
func (p *pipeline) slip(q *query) fault.Outcome {
	if p.slipDrops() {
		return fault.Outcome{Drop: true}
	}
	out := reply(q, dns.RcodeSuccess)
	out.Msg.Truncated = true
	return out
}

// slipDrops counts a limited query and says whether it gets no answer
// (every second one) rather than an empty one with TC.
func (p *pipeline) slipDrops() bool {
	p.obs.metrics.signedLimited.Inc()
	return p.slips.Add(1)%2 == 0
}

func reply(q *query, rcode int) fault.Outcome {
	return fault.Outcome{Msg: fault.Reply(&q.req, rcode)}
}

// recoverPanic turns a panic while handling one query into a SERVFAIL for
// it, logged and counted: one bad query never takes the server down.
func (p *pipeline) recoverPanic(w dns.ResponseWriter, r *dns.Msg) {
	v := recover()
	if v == nil {
		return
	}
	p.countPanic(v)
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	w.WriteMsg(m)
}

// countPanic logs and counts a panic on the query path.
func (p *pipeline) countPanic(v any) {
	p.obs.metrics.panics.Inc()
	p.panics.Add(1)
	p.cfg.Logger.Error("panic while handling a query; answered SERVFAIL", "panic", v, "stack", string(debug.Stack()))
}

// errShuttingDown is why a query arriving during shutdown is not
// forwarded.
var errShuttingDown = errors.New("dnsfault is shutting down")
