// Package report measures a `dnsfault run`: which rules fired, which names
// no rule matched, and how clients behaved under the faults (query rate
// against the healthy baseline, retries, re-asking before the TTL ran
// out). It writes the result as text, JSON and JUnit XML.
package report

import (
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/scenarios"
)

// RetryWindow is how soon after a failed or empty answer the same client
// must ask the same question again for it to count as a retry: long
// enough for a resolver's timeout (5 s by default in glibc), so a retry
// after a dropped query counts too.
const RetryWindow = 10 * time.Second

// ttlSlack forgives re-asking a second early: clients round TTLs down.
const ttlSlack = time.Second

// cacheGap tells a client with no cache from one that re-asks early: a
// client that asks a question again sooner than this after a positive
// answer it could have cached for longer has no cache (Go's resolver,
// glibc without nscd), and no TTL figure is counted for it; a re-ask
// this long or longer after the last, yet before the TTL ran out, is a
// cache that keeps answers too briefly.
const cacheGap = time.Second

// outside names the time outside every phase (before a startAt, or after
// the last timed phase).
const outside = "(no phase)"

// The bounds on what a Collector keeps, so a client asking for millions
// of distinct names (random subdomains, say) cannot grow dnsfault without
// end: names past MaxNames are counted together, and questions (client,
// name, type) past MaxQuestions are not followed for retries and early
// re-asks. The report says how many were left out.
const (
	MaxNames     = 10_000
	MaxQuestions = 100_000
)

// Collector tallies a run's events as they come; it keeps counts, not the
// events, and within bounds (MaxNames, MaxQuestions), so a long run costs
// little memory. Observe is safe for concurrent use.
type Collector struct {
	sc        *scenarios.Scenario
	timeline  scenarios.Timeline
	restarted bool // the timeline began at the first query

	mu         sync.Mutex
	total      int
	transports map[string]int
	rules      map[ruleKey]*ruleTally
	names      map[nameKey]*nameTally
	taken      map[string]bool // names some rule took at least once
	queried    map[string]int  // every name (up to MaxNames), all queries
	questions  map[questionKey]*asked
	// probeFrom is the address probes ask from (ExcludeClient), and
	// probeQueries their queries, left out of the clients' figures.
	probeFrom    netip.Addr
	probeQueries int
	// phaseQueries counts the clients' queries by phase.
	phaseQueries map[string]int
	addressed    map[clientName]time.Time

	// Past the bounds: names and their queries counted together, and
	// questions not followed.
	otherNames, otherQueries, unfollowed int
	otherSeen                            map[string]bool // nil until MaxNames is reached; bounded too

	calls        []Call // the service's, up to maxCalls
	callsDropped int
	stamped      int // calls that came without a time

	// noCache are the clients seen re-asking within cacheGap of a
	// positive answer that could be cached longer (up to MaxNames).
	noCache map[string]bool
}

type ruleKey struct{ phase, rule string }

// adHocPhase keys the tallies of ad-hoc rules, which belong to no phase
// (a phase name cannot hold a NUL).
const adHocPhase = "\x00ad-hoc"

type ruleTally struct {
	action   string
	hits     int
	viaCNAME int
	rcodes   map[string]int
}

type nameKey struct{ name, phase string }

type nameTally struct {
	queries, retries, early int
	second                  perSecond
	first                   time.Time // the first query in the phase
}

// perSecond finds the most queries in one second, keeping two seconds'
// counts: events reach Observe nearly in time order.
type perSecond struct {
	unix  [2]int64
	count [2]int
	peak  int
}

func (p *perSecond) add(unix int64) {
	i := unix & 1
	switch {
	case p.unix[i] == unix:
	case p.unix[i] < unix:
		p.peak = max(p.peak, p.count[i])
		p.unix[i], p.count[i] = unix, 0
	default:
		return // older than two seconds: late, and no peak
	}
	p.count[i]++
	p.peak = max(p.peak, p.count[i])
}

type questionKey struct {
	client string
	name   string
	qtype  uint16
}

type asked struct {
	last    time.Time
	expires time.Time // zero when the last answer could not be cached
	failed  bool      // the last answer was an error, nothing, or empty
	empty   bool      // it was empty (NODATA) for an address type
}

// clientName keys Collector.addressed: when a client last got addresses
// for a name, A or AAAA. NODATA for the other type then is a dual-stack
// client's normal answer for a name with addresses of one family only,
// not a failure.
type clientName struct{ client, name string }

// sameCall is how far apart the A and AAAA answers of one lookup may be:
// a dual-stack resolver asks both at once.
const sameCall = 50 * time.Millisecond

// NewCollector returns a collector for a run of sc on timeline.
func NewCollector(sc *scenarios.Scenario, timeline scenarios.Timeline) *Collector {
	return &Collector{
		sc: sc, timeline: timeline,
		rules: map[ruleKey]*ruleTally{}, names: map[nameKey]*nameTally{}, transports: map[string]int{}, phaseQueries: map[string]int{},
		taken: map[string]bool{}, queried: map[string]int{}, questions: map[questionKey]*asked{}, addressed: map[clientName]time.Time{}, noCache: map[string]bool{},
	}
}

// Observe records one answered query; pass it as injector.Config.Observe.
func (c *Collector) Observe(ev *injector.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	phase := outside
	if pos := c.timeline.At(ev.Time); pos.State == scenarios.Running {
		phase = c.sc.Phases[pos.Phase].Name
	}
	if ev.Sent == injector.SentHandshake {
		// A handshake a tls-fail rule took: no question, so no name,
		// retry or rate figure; its rule's row counts it.
		c.tallyRule(ev)
		return
	}
	c.total++
	c.transports[ev.Transport.String()]++
	if c.probeFrom.IsValid() && ev.Client == c.probeFrom {
		// dnsfault's own probe: its rule still fired, but the clients'
		// rates, retries and names are the service's alone.
		c.probeQueries++
		if ev.Rule != "" {
			c.tallyRule(ev)
		}
		return
	}
	if _, known := c.queried[ev.Name]; !known && len(c.queried) >= MaxNames {
		c.countOther(ev.Name)
		if ev.Rule != "" {
			c.tallyRule(ev)
		}
		return
	}
	c.queried[ev.Name]++
	if ev.Rule != "" {
		c.taken[ev.Name] = true
		c.tallyRule(ev)
	}

	c.phaseQueries[phase]++
	n := c.names[nameKey{ev.Name, phase}]
	if n == nil {
		n = &nameTally{first: ev.Time}
		c.names[nameKey{ev.Name, phase}] = n
	}
	n.queries++
	n.second.add(ev.Time.Unix())

	q := questionKey{ev.Client.String(), ev.Name, ev.Type}
	prev := c.questions[q]
	if prev == nil {
		if len(c.questions) >= MaxQuestions {
			c.unfollowed++
			return
		}
		prev = &asked{}
		c.questions[q] = prev
	} else {
		failed := prev.failed
		if prev.empty {
			// NODATA for AAAA while A answers (or the other way) is how a
			// name of one family answers a dual-stack client: excused when
			// the other family answered with the same call, just before.
			if at, ok := c.addressed[clientName{q.client, q.name}]; ok && !at.Before(prev.last.Add(-sameCall)) {
				failed = false
			}
		}
		if failed && ev.Time.Sub(prev.last) < RetryWindow {
			n.retries++
		}
		gap := ev.Time.Sub(prev.last)
		cacheable := !prev.failed && prev.expires.Sub(prev.last) > 2*cacheGap
		if cacheable && gap < cacheGap && len(c.noCache) < MaxNames {
			c.noCache[q.client] = true
		}
		if !prev.expires.IsZero() && ev.Time.Add(ttlSlack).Before(prev.expires) && gap >= cacheGap && !c.noCache[q.client] {
			n.early++
		}
	}
	prev.last = ev.Time
	prev.failed = ev.Sent != injector.SentMessage || ev.Rcode != dns.RcodeSuccess || len(ev.Answer) == 0
	isAddress := ev.Type == dns.TypeA || ev.Type == dns.TypeAAAA
	prev.empty = prev.failed && isAddress && ev.Sent == injector.SentMessage && ev.Rcode == dns.RcodeSuccess
	if isAddress && !prev.failed && len(c.addressed) < MaxQuestions {
		c.addressed[clientName{q.client, q.name}] = ev.Time
		// ... or just after: the other family's empty answer was no failure.
		other := questionKey{q.client, q.name, dns.TypeA}
		if ev.Type == dns.TypeA {
			other.qtype = dns.TypeAAAA
		}
		if o := c.questions[other]; o != nil && o.empty && !ev.Time.After(o.last.Add(sameCall)) {
			o.failed = false
		}
	}
	prev.expires = time.Time{}
	if ev.TTL > 0 {
		prev.expires = ev.Time.Add(time.Duration(ev.TTL) * time.Second)
	}
}

// ExcludeClient leaves the queries from a out of the clients' figures:
// they are the probes' (run gives them an address of their own).
func (c *Collector) ExcludeClient(a netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probeFrom = a
}

// tallyRule counts ev for the rule that took it.
func (c *Collector) tallyRule(ev *injector.Event) {
	k := ruleKey{ev.Phase, ev.Rule}
	if ev.AdHoc {
		k = ruleKey{adHocPhase, ev.Rule}
	}
	r := c.rules[k]
	if r == nil {
		r = &ruleTally{action: ev.Action, rcodes: map[string]int{}}
		c.rules[k] = r
	}
	r.hits++
	if ev.Via != "" {
		r.viaCNAME++
	}
	r.rcodes[ev.RcodeName()]++
}

// countOther counts a query for a name past MaxNames. Names are told
// apart up to MaxNames more; past that, each query may be a new name and
// is counted as one (the report says "at least").
func (c *Collector) countOther(name string) {
	c.otherQueries++
	if c.otherSeen == nil {
		c.otherSeen = map[string]bool{}
	}
	if c.otherSeen[name] {
		return
	}
	if len(c.otherSeen) < MaxNames {
		c.otherSeen[name] = true
	}
	c.otherNames++
}

// Restart places the phases on a timeline that began later (run
// --start-when first-query); pass it as injector.Config.OnTimelineStart.
// It is called before the query that started it is observed.
func (c *Collector) Restart(tl scenarios.Timeline) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeline, c.restarted = tl, true
}
