package injector

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The live figures the dashboard shows. They are kept without locks on
// the query path: counters are atomic, the latest queries are sampled at
// most latestPerSecond times a second, and names past maxLiveNames are
// not counted one by one.
const (
	liveSeconds     = 180 // seconds of per-outcome counts kept
	latestQueries   = 25
	latestPerSecond = 20
	maxLiveNames    = 2000
)

// Outcomes are the kinds of answer the live figures count: answered
// normally, upstream failed, or each action a rule took.
var Outcomes = append([]string{"normal", "upstream failure"}, actionNames()...)

func actionNames() []string {
	out := make([]string, len(scenarios.Actions))
	for i, a := range scenarios.Actions {
		out[i] = string(a)
	}
	return out
}

// The outcomes every query may have, by their index in Outcomes.
const outcomeNormal, outcomeUpstreamFailure = 0, 1

var outcomeIndex = func() map[string]int {
	m := map[string]int{}
	for i, o := range Outcomes {
		m[o] = i
	}
	return m
}()

type liveSecond struct {
	unix   atomic.Int64
	counts []atomic.Int64 // indexed like Outcomes
}

type live struct {
	seconds [liveSeconds]liveSecond
	// byTransport counts every query since the start, by transport.
	byTransport [8]atomic.Int64
	lastKept    atomic.Int64 // unix nanoseconds of the last query kept in latest

	// names counts queries by name. A plain map under a read lock: a
	// sync.Map would box each name into an interface, an allocation per
	// query.
	namesMu sync.RWMutex
	names   map[string]*atomic.Int64

	mu     sync.Mutex
	latest []control.LatestQuery // ring, newest last
}

// init gives each second a counter per outcome.
func (l *live) init() {
	for i := range l.seconds {
		l.seconds[i].counts = make([]atomic.Int64, len(Outcomes))
	}
}

func (l *live) observe(ev *Event) { l.observeNamed(ev, l.nameCounter(ev.Name)) }

// observeNamed counts ev, whose name's counter is c (nil when names are
// no longer counted one by one): a caller that keeps c saves looking the
// name up for each query.
func (l *live) observeNamed(ev *Event, c *atomic.Int64) {
	i := outcomeNormal
	switch {
	case ev.Err != nil:
		i = outcomeUpstreamFailure
	case ev.Rule != "":
		var ok bool
		if i, ok = outcomeIndex[ev.Action]; !ok {
			i = outcomeIndex["drop"] // "drop (max-held)"
		}
	}
	sec := ev.Time.Unix()
	slot := &l.seconds[sec%liveSeconds]
	if old := slot.unix.Load(); old != sec && slot.unix.CompareAndSwap(old, sec) {
		for j := range slot.counts {
			slot.counts[j].Store(0)
		}
	}
	slot.counts[i].Add(1)
	l.byTransport[ev.Transport&7].Add(1)
	if c != nil {
		c.Add(1)
	}

	now := ev.Time.UnixNano()
	if last := l.lastKept.Load(); now-last >= int64(time.Second/latestPerSecond) && l.lastKept.CompareAndSwap(last, now) {
		q := control.LatestQuery{Time: ev.Time.UTC(), Name: ev.Name, Type: dns.TypeToString[ev.Type], Client: ev.Client.String(),
			Rule: ev.Rule, Action: ev.Action, Rcode: ev.RcodeName(), LatencyMs: float64(ev.Latency.Microseconds()) / 1000}
		l.mu.Lock()
		l.latest = append(l.latest, q)
		if len(l.latest) > latestQueries {
			l.latest = l.latest[len(l.latest)-latestQueries:]
		}
		l.mu.Unlock()
	}
}

// nameCounter is the counter of queries for name, made if there is room
// for another name; nil when there is none. Names are never removed, so a
// counter may be kept.
func (l *live) nameCounter(name string) *atomic.Int64 {
	l.namesMu.RLock()
	c, full := l.names[name], len(l.names) >= maxLiveNames
	l.namesMu.RUnlock()
	if c != nil || full {
		return c
	}
	l.namesMu.Lock()
	defer l.namesMu.Unlock()
	if l.names == nil {
		l.names = map[string]*atomic.Int64{}
	}
	if c = l.names[name]; c == nil && len(l.names) < maxLiveNames {
		c = new(atomic.Int64)
		l.names[name] = c
	}
	return c
}

// Live reports the live figures now.
func (s *Server) Live() control.Live {
	now := s.cfg.Now()
	l := &s.pipe.obs.live
	out := control.Live{Status: s.Status(), Outcomes: Outcomes, Seconds: []control.LiveSecond{}, TopNames: []control.NameTreatment{}, Transports: map[string]int64{}}
	for t := range l.byTransport {
		if n := l.byTransport[t].Load(); n > 0 {
			out.Transports[scenarios.Transport(t).String()] = n
		}
	}
	for t := now.Unix() - liveSeconds + 1; t <= now.Unix(); t++ {
		sec := control.LiveSecond{Unix: t, Counts: make([]int64, len(Outcomes))}
		if slot := &l.seconds[t%liveSeconds]; slot.unix.Load() == t {
			for i := range Outcomes {
				sec.Counts[i] = slot.counts[i].Load()
			}
		}
		out.Seconds = append(out.Seconds, sec)
	}
	l.namesMu.RLock()
	for name, c := range l.names {
		out.TopNames = append(out.TopNames, control.NameTreatment{Name: name, Queries: c.Load()})
	}
	l.namesMu.RUnlock()
	sort.Slice(out.TopNames, func(i, j int) bool {
		a, b := out.TopNames[i], out.TopNames[j]
		return a.Queries > b.Queries || a.Queries == b.Queries && a.Name < b.Name
	})
	if len(out.TopNames) > 10 {
		out.TopNames = out.TopNames[:10]
	}
	st := s.pipe.state.Load()
	pos, off := s.pipe.position(st, now)
	for i := range out.TopNames {
		name, t := out.TopNames[i].Name, "answered normally"
		if st.adhoc != nil && !safetyOff(off) {
			t = treatment(st.adhoc.matcher, name, func(i int) *scenarios.Rule { return st.adhoc.rules[i].plan.spec })
		}
		if t == "answered normally" && off == "" {
			ph := st.plan.phases[pos.Phase]
			t = treatment(ph.matcher, name, func(i int) *scenarios.Rule { return ph.rules[i].spec })
		}
		out.TopNames[i].Treatment = t
	}
	l.mu.Lock()
	out.Latest = append([]control.LatestQuery{}, l.latest...)
	l.mu.Unlock()
	out.Probes = s.probeStatuses()
	return out
}

// treatment says what the rules of m do to queries for name: "answered
// normally", or "RULE: ACTION", marked "(some queries)" when the rule
// takes only some of them (a probability, or conditions on the type, the
// client or the transport). rule gives the matcher's i-th rule.
func treatment(m *match.Matcher, name string, rule func(i int) *scenarios.Rule) string {
	mq := match.Query{Name: name, NameOnly: true}
	i := m.First(&mq, anyRule)
	if i < 0 {
		return "answered normally"
	}
	return describeTreatment(rule(i))
}

func describeTreatment(rule *scenarios.Rule) string {
	out := rule.Name + ": " + string(rule.Action)
	m := rule.Match
	if rule.Probability != scenarios.Always || len(m.Types) > 0 || len(m.Clients) > 0 || !m.Transport.Any() {
		out += " (some queries)"
	}
	return out
}
