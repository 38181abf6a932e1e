// Package report measures a `dnsfault run`: which rules fired, which names
// no rule matched, and how clients behaved under the faults (query rate
// against the healthy baseline, retries, re-asking before the TTL ran
// out). It writes the result as text, JSON and JUnit XML.
package report

import (
	"sync"
	"time"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/scenarios"
)

// RetryWindow is how soon the same client must ask the same question again
// for it to count as a retry.
const RetryWindow = time.Second

// ttlSlack forgives re-asking a second early: clients round TTLs down.
const ttlSlack = time.Second

// outside names the time outside every phase (before a startAt, or after
// the last timed phase).
const outside = "(no phase)"

// Collector tallies a run's events as they come; it keeps counts, not the
// events, so a long run costs little memory. Observe is safe for
// concurrent use.
type Collector struct {
	sc       *scenarios.Scenario
	timeline scenarios.Timeline

	mu        sync.Mutex
	total     int
	rules     map[ruleKey]*ruleTally
	names     map[nameKey]*nameTally
	taken     map[string]bool // names some rule took at least once
	queried   map[string]int  // every name, all queries
	questions map[questionKey]*asked
}

type ruleKey struct{ phase, rule string }

type ruleTally struct {
	action string
	hits   int
	rcodes map[string]int
}

type nameKey struct{ name, phase string }

type nameTally struct {
	queries, retries, early int
	perSecond               map[int64]int
}

type questionKey struct {
	client string
	name   string
	qtype  uint16
}

type asked struct {
	last    time.Time
	expires time.Time // zero when the last answer could not be cached
}

// NewCollector returns a collector for a run of sc on timeline.
func NewCollector(sc *scenarios.Scenario, timeline scenarios.Timeline) *Collector {
	return &Collector{
		sc: sc, timeline: timeline,
		rules: map[ruleKey]*ruleTally{}, names: map[nameKey]*nameTally{},
		taken: map[string]bool{}, queried: map[string]int{}, questions: map[questionKey]*asked{},
	}
}

// Observe records one answered query; pass it as injector.Config.Observe.
func (c *Collector) Observe(ev *injector.Event) {
	phase := outside
	if pos := c.timeline.At(ev.Time); pos.State == scenarios.Running {
		phase = c.sc.Phases[pos.Phase].Name
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.queried[ev.Name]++
	if ev.Rule != "" {
		c.taken[ev.Name] = true
		k := ruleKey{ev.Phase, ev.Rule}
		r := c.rules[k]
		if r == nil {
			r = &ruleTally{action: ev.Action, rcodes: map[string]int{}}
			c.rules[k] = r
		}
		r.hits++
		r.rcodes[ev.RcodeName()]++
	}

	n := c.names[nameKey{ev.Name, phase}]
	if n == nil {
		n = &nameTally{perSecond: map[int64]int{}}
		c.names[nameKey{ev.Name, phase}] = n
	}
	n.queries++
	n.perSecond[ev.Time.Unix()]++

	q := questionKey{ev.Client.String(), ev.Name, ev.Type}
	prev := c.questions[q]
	if prev == nil {
		prev = &asked{}
		c.questions[q] = prev
	} else {
		if ev.Time.Sub(prev.last) < RetryWindow {
			n.retries++
		}
		if !prev.expires.IsZero() && ev.Time.Add(ttlSlack).Before(prev.expires) {
			n.early++
		}
	}
	prev.last = ev.Time
	prev.expires = time.Time{}
	if ev.TTL > 0 {
		prev.expires = ev.Time.Add(time.Duration(ev.TTL) * time.Second)
	}
}
