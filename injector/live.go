package injector

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

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
	counts [16]atomic.Int64 // indexed like Outcomes
}

type live struct {
	seconds  [liveSeconds]liveSecond
	lastKept atomic.Int64 // unix nanoseconds of the last query kept in latest

	// names counts queries by name. A plain map under a read lock: a
	// sync.Map would box each name into an interface, an allocation per
	// query.
	namesMu sync.RWMutex
	names   map[string]*atomic.Int64

	mu     sync.Mutex
	latest []LatestQuery // ring, newest last
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
	if c != nil {
		c.Add(1)
	}

	now := ev.Time.UnixNano()
	if last := l.lastKept.Load(); now-last >= int64(time.Second/latestPerSecond) && l.lastKept.CompareAndSwap(last, now) {
		q := LatestQuery{Time: ev.Time.UTC(), Name: ev.Name, Type: dns.TypeToString[ev.Type], Client: ev.Client.String(),
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

// Live is what the dashboard shows, at one instant.
type Live struct {
	Status Status `json:"status"`
	// Outcomes names the columns of each second's Counts.
	Outcomes []string `json:"outcomes"`
	// Seconds are the last liveSeconds seconds, oldest first.
	Seconds  []LiveSecond    `json:"seconds"`
	TopNames []NameTreatment `json:"top_names"`
	Latest   []LatestQuery   `json:"latest"`
}

// LiveSecond is one second's queries by outcome.
type LiveSecond struct {
	Unix   int64   `json:"t"`
	Counts []int64 `json:"counts"`
}

// NameTreatment is a much-queried name and what the phase in force does to
// it now.
type NameTreatment struct {
	Name      string `json:"name"`
	Queries   int64  `json:"queries"`
	Treatment string `json:"treatment"` // "answered normally", or "RULE: ACTION"
}

// LatestQuery is one recent query.
type LatestQuery struct {
	Time      time.Time `json:"time"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Client    string    `json:"client"`
	Rule      string    `json:"rule,omitempty"`
	Action    string    `json:"action"`
	Rcode     string    `json:"rcode"`
	LatencyMs float64   `json:"latency_ms"`
}

// Live reports the live figures now.
func (s *Server) Live() Live {
	now := s.cfg.Now()
	out := Live{Status: s.Status(), Outcomes: Outcomes, Seconds: []LiveSecond{}, TopNames: []NameTreatment{}}
	for t := now.Unix() - liveSeconds + 1; t <= now.Unix(); t++ {
		sec := LiveSecond{Unix: t, Counts: make([]int64, len(Outcomes))}
		if slot := &s.live.seconds[t%liveSeconds]; slot.unix.Load() == t {
			for i := range Outcomes {
				sec.Counts[i] = slot.counts[i].Load()
			}
		}
		out.Seconds = append(out.Seconds, sec)
	}
	s.live.namesMu.RLock()
	for name, c := range s.live.names {
		out.TopNames = append(out.TopNames, NameTreatment{Name: name, Queries: c.Load()})
	}
	s.live.namesMu.RUnlock()
	sort.Slice(out.TopNames, func(i, j int) bool {
		a, b := out.TopNames[i], out.TopNames[j]
		return a.Queries > b.Queries || a.Queries == b.Queries && a.Name < b.Name
	})
	if len(out.TopNames) > 10 {
		out.TopNames = out.TopNames[:10]
	}
	st := s.state.Load()
	pos, off := s.position(st, now)
	for i := range out.TopNames {
		out.TopNames[i].Treatment = "answered normally"
		if off != "" {
			continue
		}
		phase := st.plan.phases[pos.Phase]
		if r := phase.matcher.First(&match.Query{Name: out.TopNames[i].Name, Type: dns.TypeA, Transport: "udp"}, func(int) bool { return true }); r >= 0 {
			rule := phase.rules[r].spec
			out.TopNames[i].Treatment = rule.Name + ": " + string(rule.Action)
			if rule.Probability != scenarios.Always {
				out.TopNames[i].Treatment += " (some queries)"
			}
		}
	}
	s.live.mu.Lock()
	out.Latest = append([]LatestQuery{}, s.live.latest...)
	s.live.mu.Unlock()
	return out
}
