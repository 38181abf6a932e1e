package injector

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/match"
)

// ednsSize is the UDP payload size we advertise (DNS flag day 2020).
const ednsSize = 1232

// verdict is what the pipeline decided for one query, for the writer and
// the query log.
type verdict struct {
	out    fault.Outcome
	phase  string // "" when no phase is active
	rule   string // "" when no rule took the query
	action string
	ede    *dns.EDNS0_EDE
	err    error // why the normal answer failed, if it did

	// wait, when set, is a UDP query's delay: rule's action runs after it,
	// from a timer (see answerLater).
	wait    time.Duration
	pending *rulePlan
	plan    *plan

	// async, when set, is the source that answers this query without a
	// waiting goroutine (see answerAsync).
	async *source
}

// ServeDNS answers one query. It is the only place that writes to the
// client: every step before it returns a decision.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	defer s.recoverPanic(w, r)
	// One clock read serves as the arrival time and the start of the
	// latency, unless a test drives the timeline with its own clock.
	began := time.Now()
	arrived := began
	if !s.realClock {
		arrived = s.cfg.Now()
	}
	q := newQuery(w, r)
	v := s.decide(q, arrived)
	if v.wait > 0 {
		s.answerLater(w, r, q, v, arrived, began)
		return
	}
	if v.async != nil {
		s.answerAsync(w, q, v, arrived, began)
		return
	}
	s.respond(w, q, &v, arrived, began)
}

// answerAsync answers a query the normal way without holding up the
// goroutine serving its batch: from the zones at once, else from upstream
// (see forwardAsync).
func (s *Server) answerAsync(w dns.ResponseWriter, q *query, v verdict, arrived, began time.Time) {
	if m := v.async.local(&q.req); m != nil {
		v.out = fault.Outcome{Msg: m}
		s.respond(w, q, &v, arrived, began)
		// The zones' answers (AA) are the same for the next such query:
		// ServeRaw sends them without this path.
		if m.Authoritative && s.prepacks() {
			v.async.prepacked.keep(q.req.Msg, m, q.req.Name, udpSize(q.opt), &s.live)
		}
		return
	}
	s.forwardAsync(w, q, v, arrived, began)
}

// forwardAsync forwards a query and answers it on the goroutine that
// reads the upstream's answer: no goroutine waits for each forwarded
// query.
func (s *Server) forwardAsync(w dns.ResponseWriter, q *query, v verdict, arrived, began time.Time) {
	src := v.async
	answer := func(m *dns.Msg, err error) {
		v.out, v.err = fault.Outcome{Msg: m}, err
		v = s.finish(q, v)
		s.respond(w, q, &v, arrived, began)
	}
	sent := time.Now()
	fwd, ok := src.fwd.(asyncForwarder)
	if !ok {
		q.req.Detacher.Detach()
		resp, err := src.fwd.Forward(s.ctx, q.req.Msg, false)
		answer(src.forwarded(resp, err, sent))
		return
	}
	if !s.track() { // shutting down
		answer(nil, errShuttingDown)
		return
	}
	w.Hijack() // answered after ServeDNS returns
	s.inFlight.Add(1)
	fwd.ForwardAsync(s.ctx, q.req.Msg, func(resp *dns.Msg, err error) {
		defer s.pendingWG.Done()
		defer s.inFlight.Add(-1)
		defer s.recoverPanic(w, q.req.Msg)
		answer(src.forwarded(resp, err, sent))
	})
}

// respond writes the verdict and tells every sink about it.
func (s *Server) respond(w dns.ResponseWriter, q *query, v *verdict, arrived, began time.Time) {
	s.write(w, q, v)
	// Every sink reads the same event: metrics, the query log, observers.
	ev := s.event(q, v, arrived, began)
	s.metrics.count(&ev)
	s.live.observe(&ev)
	if s.queryLog != nil {
		s.queryLog.write(&ev)
	}
	if s.cfg.Observe != nil {
		s.cfg.Observe(&ev)
	}
}

// query is one client query as the pipeline sees it.
type query struct {
	req    fault.Request
	client netip.Addr
	opt    *dns.OPT // the client's EDNS0 record, if any
}

func newQuery(w dns.ResponseWriter, r *dns.Msg) *query {
	q := &query{req: fault.Request{Msg: r}, opt: r.IsEdns0()}
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		q.client = a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		q.client = a.AddrPort().Addr().Unmap()
		q.req.TCP = true
	}
	q.req.Client = q.client
	q.req.Detacher, _ = w.(fault.Detacher)
	if len(r.Question) == 1 {
		q.req.Name = lower(r.Question[0].Name)
		q.req.Type = r.Question[0].Qtype
	}
	return q
}

// decide runs the pipeline; each step says why it stands where it does.
func (s *Server) decide(q *query, now time.Time) verdict {
	// Malformed questions are refused before anything else looks at them.
	if len(q.req.Msg.Question) != 1 {
		return verdict{out: reply(q, dns.RcodeFormatError), action: "formerr"}
	}
	if q.opt != nil && q.opt.Version() != 0 {
		return verdict{out: reply(q, dns.RcodeBadVers), action: "badvers"}
	}
	// The allow-list comes before faults: a client we do not serve learns
	// nothing about the scenario.
	if len(s.cfg.Allow) > 0 && !allowed(s.cfg.Allow, q.client) {
		return verdict{out: reply(q, dns.RcodeRefused), action: "refused"}
	}
	// One atomic load gives the plan, the timeline and the abort state
	// together, so an abort is seen by the very next query.
	st := s.state.Load()
	p := st.plan
	v := verdict{action: "pass"}
	var rule *rulePlan
	if pos, off := s.position(st, now); off == "" {
		phase := p.phases[pos.Phase]
		v.phase = phase.name
		rule = phase.choose(p.seed, q, pos.Progress)
	}
	if rule == nil {
		// No rule: answer normally. Over batched UDP, without waiting for
		// an upstream on the goroutine that serves the batch.
		if q.req.Detacher != nil {
			v.async = p.source
			return v
		}
		v.out, v.err = fault.Pass{}.Act(s.ctx, &q.req, p.source)
		return s.finish(q, v)
	}
	rule.hits.Add(1)
	v.rule, v.action = rule.spec.Name, string(rule.spec.Action)
	// The delay comes before the action, so a delayed pass is a slow
	// resolver and a delayed servfail a slow failure.
	if d := rule.delay(p.seed); d > 0 {
		if !q.req.TCP && s.ctx.Err() == nil {
			v.wait, v.pending, v.plan = d, rule, p
			return v
		}
		if !s.hold(d) {
			return s.droppedHeld(v)
		}
	}
	return s.act(q, v, rule, p)
}

// droppedHeld is the verdict for a delayed query over --max-held.
func (s *Server) droppedHeld(v verdict) verdict {
	s.metrics.heldDropped.Inc()
	v.out, v.action = fault.Outcome{Drop: true}, "drop (max-held)"
	return v
}

// act runs the rule's action and modifiers.
func (s *Server) act(q *query, v verdict, rule *rulePlan, p *plan) verdict {
	v.out, v.err = rule.fault.Act(s.ctx, &q.req, p.source)
	if v.err == nil && v.out.Msg != nil {
		// Modifiers rewrite the answer the action produced.
		if rule.spec.Keep > 0 {
			fault.Keep(v.out.Msg, q.req.Type, rule.spec.Keep)
		}
		if rule.spec.TTL != nil {
			fault.SetTTL(v.out.Msg, *rule.spec.TTL)
		}
		if e := rule.spec.EDE; e != nil {
			v.ede = &dns.EDNS0_EDE{InfoCode: e.Code, ExtraText: e.Text}
		}
	}
	return s.finish(q, v)
}

// finish turns a failed normal answer into SERVFAIL, saying why in an
// Extended DNS Error so an injected SERVFAIL can be told from a real one.
func (s *Server) finish(q *query, v verdict) verdict {
	if v.err != nil {
		s.cfg.Logger.Warn("no answer", "name", q.req.Name, "type", dns.TypeToString[q.req.Type], "err", v.err)
		v.out = reply(q, dns.RcodeServerFailure)
		v.ede = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority, ExtraText: "dnsfault: upstream gave no answer"}
	}
	return v
}

// choose returns the first rule of the phase that takes q, or nil.
func (ph *phasePlan) choose(seed uint64, q *query, progress float64) *rulePlan {
	mq := match.Query{Name: q.req.Name, Type: q.req.Type, Client: q.client, Transport: "udp"}
	if q.req.TCP {
		mq.Transport = "tcp"
	}
	i := ph.matcher.First(&mq, func(i int) bool {
		r := ph.rules[i]
		return r.takes(seed, r.spec.Probability.At(progress))
	})
	if i < 0 {
		return nil
	}
	return ph.rules[i]
}

func reply(q *query, rcode int) fault.Outcome {
	return fault.Outcome{Msg: fault.Reply(&q.req, rcode)}
}

// write sends the verdict: the one place that writes to the client.
func (s *Server) write(w dns.ResponseWriter, q *query, v *verdict) {
	switch {
	case v.out.Drop:
		return
	case v.out.Raw != nil:
		w.Write(v.out.Raw)
		return
	case v.out.Msg == nil:
		return
	}
	m := v.out.Msg
	// Our own EDNS0 record, only to clients that sent one (RFC 6891).
	if q.opt != nil {
		m.Extra = append(m.Extra, ourOPT(q.opt.Do(), v.ede))
	}
	if q.req.TCP {
		m.Compress = true
	} else {
		m.Truncate(udpSize(q.opt))
	}
	w.WriteMsg(m)
}

// ourOPT is the OPT record of a reply. Each reply gets its own: packing
// writes the extended rcode into it, even when there is none.
func ourOPT(do bool, ede *dns.EDNS0_EDE) *dns.OPT {
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(ednsSize)
	opt.SetDo(do)
	if ede != nil {
		opt.Option = append(opt.Option, ede)
	}
	return opt
}

// udpSize is the largest UDP reply we send: what the client accepts, but
// never above our own 1232 bytes, so answers are not fragmented (DNS flag
// day 2020); larger ones are truncated and the client retries over TCP.
func udpSize(opt *dns.OPT) int {
	if opt == nil {
		return dns.MinMsgSize
	}
	return int(min(max(opt.UDPSize(), dns.MinMsgSize), ednsSize))
}

func allowed(allow []netip.Prefix, a netip.Addr) bool {
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hold waits out a delay, or until shutdown, unless --max-held queries are
// already waiting: then it returns false at once and the query is dropped,
// so a flood of delayed queries cannot exhaust memory.
func (s *Server) hold(d time.Duration) bool {
	if !s.reserveHeld() {
		return false
	}
	defer s.released()
	sleep(s.ctx, d)
	return true
}

// reserveHeld takes a place among the --max-held queries waiting out a
// delay, or reports that there is none.
func (s *Server) reserveHeld() bool {
	n := s.held.Add(1)
	if n > int64(s.cfg.MaxHeld) {
		s.held.Add(-1)
		return false
	}
	if n > s.heldPeak.Load() {
		s.heldPeak.Store(n)
	}
	return true
}

// pendingAnswer is a delayed UDP query waiting for its timer.
type pendingAnswer struct {
	timer *time.Timer
	fire  func()
}

// answerLater answers a delayed UDP query from a timer. While it waits it
// holds its state and a timer, not a goroutine and its stack, so tens of
// thousands can wait at once. (TCP waits in its goroutine: miekg/dns reads
// a connection's next query only after the handler returns.) Shutdown
// fires the timers early, while the socket is still open.
func (s *Server) answerLater(w dns.ResponseWriter, r *dns.Msg, q *query, v verdict, arrived, began time.Time) {
	if !s.reserveHeld() {
		v = s.droppedHeld(v)
		s.respond(w, q, &v, arrived, began)
		return
	}
	w.Hijack() // we write after ServeDNS returns
	s.inFlight.Add(1)
	pa := &pendingAnswer{}
	answer := func() {
		defer s.inFlight.Add(-1)
		defer s.released()
		defer s.recoverPanic(w, r)
		s.pendingMu.Lock()
		delete(s.pending, pa)
		s.pendingMu.Unlock()
		v := s.act(q, v, v.pending, v.plan)
		s.respond(w, q, &v, arrived, began)
	}
	pa.fire = func() {
		defer s.pendingWG.Done()
		answer()
	}
	s.pendingMu.Lock()
	if s.ctx.Err() != nil { // shutting down: answer now
		s.pendingMu.Unlock()
		answer()
		return
	}
	s.pendingWG.Add(1) // under pendingMu: see track
	if s.pending == nil {
		s.pending = map[*pendingAnswer]struct{}{}
	}
	s.pending[pa] = struct{}{}
	pa.timer = time.AfterFunc(v.wait, pa.fire)
	s.pendingMu.Unlock()
}

// track counts one more query that Shutdown waits for (pendingWG), unless
// shutdown has begun: then it reports false and the caller answers now.
// Shutdown waits only after taking pendingMu once shutdown has begun, so
// no query is added while it waits.
func (s *Server) track() bool {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.pendingWG.Add(1)
	return true
}

// firePending answers every delayed UDP query now; Shutdown calls it.
func (s *Server) firePending() {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	for pa := range s.pending {
		if pa.timer.Stop() {
			go pa.fire()
		}
	}
}

// burstHeld is how many held queries make a burst whose memory is handed
// back to the system once it drains.
const burstHeld = 10_000

// released ends one held query. When the last of a large burst ends, the
// memory it took goes back to the system at once: the Go runtime would
// otherwise keep it for a long while, and a chaos drill's burst should
// leave no trace.
func (s *Server) released() {
	if s.held.Add(-1) == 0 && s.heldPeak.Swap(0) >= burstHeld {
		if last := s.lastFree.Load(); time.Since(time.Unix(0, last)) > time.Minute && s.lastFree.CompareAndSwap(last, time.Now().UnixNano()) {
			go debug.FreeOSMemory()
		}
	}
}

// recoverPanic turns a panic while handling one query into a SERVFAIL for
// it, logged and counted: one bad query never takes the server down.
func (s *Server) recoverPanic(w dns.ResponseWriter, r *dns.Msg) {
	p := recover()
	if p == nil {
		return
	}
	s.metrics.panics.Inc()
	s.panics.Add(1)
	s.cfg.Logger.Error("panic while handling a query; answered SERVFAIL", "panic", p, "stack", string(debug.Stack()))
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	w.WriteMsg(m)
}

// errShuttingDown is why a query arriving during shutdown is not
// forwarded.
var errShuttingDown = errors.New("dnsfault is shutting down")

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// lower returns name in ASCII lower case, without allocating when it
// already is.
func lower(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}
