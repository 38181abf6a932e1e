package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Exit statuses of `dnsfault run` besides the command's own. They sit high
// so that they seldom collide with a test runner's statuses.
const (
	// ExitExpectation: the command passed but a client broke an
	// expectation of the scenario.
	ExitExpectation = 120
	// ExitUnexercised: the command passed but a rule never fired, so the
	// fault was never tested.
	ExitUnexercised = 121
	// ExitCannotRun: dnsfault itself could not run (bad scenario, bad
	// flags, a port in use).
	ExitCannotRun = 125
)

// Report is what a run found. Its JSON form is documented in
// docs/report.md and docs/report.schema.json.
type Report struct {
	Scenario string  `json:"scenario"`
	Seed     int64   `json:"seed"`
	Speed    float64 `json:"speed"`
	// TTLScale is what the TTLs served were divided by: the speed, or 1
	// with --keep-ttls.
	TTLScale        float64   `json:"ttl_scale"`
	Command         []string  `json:"command"`
	CommandExitCode int       `json:"command_exit_code"`
	Started         time.Time `json:"started"`
	// StartWhen is when the timeline began: now (with the run) or
	// first-query; TimelineStartSeconds is that instant, in seconds from
	// the run's start (absent when no query ever started it).
	StartWhen            string   `json:"start_when"`
	TimelineStartSeconds *float64 `json:"timeline_start_seconds,omitempty"`
	DurationSeconds      float64  `json:"duration_seconds"`
	Queries              int      `json:"queries"`
	// Transports counts the queries by transport: udp, tcp, dot, doh.
	Transports map[string]int `json:"transports"`
	Phases     []Phase        `json:"phases"`
	// AdHocRules are the rules added at runtime (ctl add) that took
	// queries, over the whole run; absent when none did.
	AdHocRules  []Rule      `json:"ad_hoc_rules,omitempty"`
	Unexercised []RuleRef   `json:"unexercised"`
	Unmatched   []NameCount `json:"unmatched_names"`
	// Overflow says what the report's bounds left out, when they did.
	Overflow *Overflow      `json:"overflow,omitempty"`
	Clients  []NameBehavior `json:"client_behavior"`
	// Service is what the service's own calls saw (DNSFAULT_EVENTS), per
	// phase; Recovery how long it took to come back after the faults.
	Service []ServicePhase `json:"service"`
	// Probes is what each probe saw, apart (--probe, probes:), and
	// ProbeQueries the DNS queries they made, which no client figure
	// counts.
	Probes       []ProbeReport `json:"probes,omitempty"`
	ProbeQueries int           `json:"probe_queries,omitempty"`
	// StampedCalls counts the calls reported without a time, which got
	// the time dnsfault read them (up to 50 ms late): give start and end
	// for figures to the millisecond.
	StampedCalls int           `json:"stamped_calls,omitempty"`
	Recovery     *Recovery     `json:"recovery,omitempty"`
	Expectations []Expectation `json:"expectations"`
	// ExpectationsDefaulted says the scenario stated no expectation, so
	// dnsfault's defaults were judged.
	ExpectationsDefaulted bool `json:"expectations_defaulted"`
	// Verdict is pass, command-failed, expectation-failed or unexercised.
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exit_code"`
}

// Overflow is what a run asked past the collector's bounds (MaxNames,
// MaxQuestions): counted, not itemised.
type Overflow struct {
	// Names past the first MaxNames (at least this many), and their
	// queries: in no per-name figure, though rules still count them.
	Names   int `json:"names"`
	Queries int `json:"queries"`
	// Questions past the first MaxQuestions, not followed for retries
	// and early re-asks.
	Questions int `json:"questions_not_followed"`
}

// Phase is one phase of the scenario during the run.
type Phase struct {
	Name string `json:"name"`
	// Reached says whether the run lasted into this phase; the offsets are
	// seconds from the start of the run, clipped to it.
	Reached     bool    `json:"reached"`
	FromSeconds float64 `json:"from_seconds"`
	ToSeconds   float64 `json:"to_seconds"`
	Rules       []Rule  `json:"rules"`
}

// RuleCount is what the server counted of a rule: the questions
// answered while it was in force, and those that met its conditions.
type RuleCount struct {
	Seen, Matched uint64
}

// Rule is one rule's tally in one phase.
type Rule struct {
	Name      string         `json:"name"`
	Action    string         `json:"action"`
	Hits      int            `json:"hits"`
	Rcodes    map[string]int `json:"rcodes"`
	Exercised bool           `json:"exercised"`
	// ViaCNAME counts the hits on a name the answer to another name
	// reached through a CNAME chain.
	ViaCNAME int `json:"via_cname,omitempty"`
	// Seen and Matched are the server's counts (RuleCount): with Hits,
	// they say why a rule that never fired did not.
	Seen    *uint64 `json:"seen,omitempty"`
	Matched *uint64 `json:"matched,omitempty"`
}

// RuleRef names a rule of a phase.
type RuleRef struct {
	Phase string `json:"phase"`
	Rule  string `json:"rule"`
	// Seen and Matched, of a rule that never fired, say why (RuleCount).
	Seen    *uint64 `json:"seen,omitempty"`
	Matched *uint64 `json:"matched,omitempty"`
}

// RuleKey names a rule: its phase ("ad-hoc" for an ad-hoc rule) and name.
type RuleKey struct{ Phase, Rule string }

// NameCount is a name and how often it was queried.
type NameCount struct {
	Name    string `json:"name"`
	Queries int    `json:"queries"`
}

// NameBehavior is how clients treated one target name (a name some rule
// took), phase by phase.
type NameBehavior struct {
	Name   string      `json:"name"`
	Phases []NamePhase `json:"phases"`
}

// NamePhase is one target name in one phase.
type NamePhase struct {
	Phase   string  `json:"phase"`
	Queries int     `json:"queries"`
	QPS     float64 `json:"qps"`
	// Amplification is QPS over the baseline rate; absent for the
	// baseline itself. The baseline rate is the name's queries in the
	// baseline phase over the time from its first query there to the
	// phase's end, so a client that starts late does not dilute it; with
	// too few of them there is none (BaselineTooShort). When the name was
	// not queried in the baseline, one query over the whole phase is
	// assumed and BaselineAssumed is set: a lower bound.
	Amplification   *float64 `json:"amplification,omitempty"`
	BaselineAssumed bool     `json:"baseline_assumed,omitempty"`
	// PeakQPS is the most queries in one second of the clock, and never
	// less than QPS.
	PeakQPS int `json:"peak_qps"`
	// PeakAmplification is PeakQPS over the baseline rate: the busiest
	// second, which an average over the phase hides.
	PeakAmplification *float64 `json:"peak_amplification,omitempty"`
	// BaselineTooShort says there was not enough baseline for a rate:
	// fewer than 5 queries of the name there, or under 50 ms of them.
	BaselineTooShort bool `json:"baseline_too_short,omitempty"`
	// TooShort says the run saw too little of this phase for a rate:
	// under 50 ms of it, or under a second with fewer than 5 queries:
	// its QPS is its queries over at least a second, and no amplification
	// is judged from it.
	TooShort bool `json:"too_short,omitempty"`
	// Retries are re-asks after a failure; NewLookups the rest.
	Retries     int `json:"retries"`
	NewLookups  int `json:"new_lookups"`
	EarlyReasks int `json:"early_reasks"`
}

// Expectation is one `expect` of the scenario (or a default, or run's
// --expect) and whether the run met it.
type Expectation struct {
	Name  string `json:"name"`
	Limit string `json:"limit"`
	// Source says where the limit comes from: the scenario's why, the
	// command line, or dnsfault's default.
	Source string `json:"source,omitempty"`
	// Measured is the figure judged, in words, when there is one.
	Measured string `json:"measured,omitempty"`
	OK       bool   `json:"ok"`
	// NotJudged says why the data could not support a verdict; such an
	// expectation does not fail the run, and the text says so.
	NotJudged string   `json:"not_judged,omitempty"`
	Breaches  []string `json:"breaches,omitempty"`
}

// Run describes the run being reported.
type Run struct {
	Seed            int64
	Speed           float64
	TTLScale        float64
	Command         []string
	CommandExitCode int
	Started, Ended  time.Time
	// StartWhen is run's --start-when: now (the default) or first-query.
	StartWhen string
	// RecoveryRun is how many successful calls in a row count as
	// recovered (default DefaultRecoveryRun).
	RecoveryRun int
	// AllowUnexercised reports rules that never fired without failing.
	AllowUnexercised bool
	// RuleCounts are the server's counters of each rule (by phase, and
	// "ad-hoc"), when it gave them: what it saw and matched besides what
	// it took.
	RuleCounts map[RuleKey]RuleCount
}

// Report builds the report of a run from what the collector saw.
func (c *Collector) Report(run Run) *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Report{
		Scenario: c.sc.Name, Seed: run.Seed, Speed: run.Speed, TTLScale: max(run.TTLScale, 1),
		Command: run.Command, CommandExitCode: run.CommandExitCode,
		Started: run.Started.UTC(), DurationSeconds: run.Ended.Sub(run.Started).Seconds(), Queries: c.total, Transports: c.transports,
		Unexercised: []RuleRef{}, Unmatched: []NameCount{}, Clients: []NameBehavior{}, Expectations: []Expectation{}, Service: []ServicePhase{},
		StartWhen: run.StartWhen,
	}
	if r.StartWhen == "" {
		r.StartWhen = "now"
	}
	if r.StartWhen == "now" || c.restarted {
		at := max(c.timeline.Start.Sub(run.Started).Seconds(), 0)
		r.TimelineStartSeconds = &at
	}
	windows := map[string]span{} // each phase's part of the run
	for i, p := range c.sc.Phases {
		from, to := c.clip(i, run)
		ph := Phase{Name: p.Name, Reached: to > from, FromSeconds: from.Seconds(), ToSeconds: to.Seconds(), Rules: []Rule{}}
		windows[p.Name] = span{run.Started.Add(from), run.Started.Add(to)}
		for _, rule := range p.Rules {
			t := c.rules[ruleKey{p.Name, rule.Name}]
			out := Rule{Name: rule.Name, Action: string(rule.Action), Rcodes: map[string]int{}}
			ref := RuleRef{Phase: p.Name, Rule: rule.Name}
			if n, ok := run.RuleCounts[RuleKey{p.Name, rule.Name}]; ok {
				out.Seen, out.Matched = &n.Seen, &n.Matched
			}
			if t != nil {
				out.Hits, out.Rcodes, out.Exercised, out.ViaCNAME = t.hits, t.rcodes, true, t.viaCNAME
			} else {
				if out.Seen != nil {
					ref.Seen, ref.Matched = out.Seen, out.Matched
				}
				r.Unexercised = append(r.Unexercised, ref)
			}
			ph.Rules = append(ph.Rules, out)
		}
		r.Phases = append(r.Phases, ph)
	}
	for k, t := range c.rules {
		if k.phase == adHocPhase {
			r.AdHocRules = append(r.AdHocRules, Rule{Name: k.rule, Action: t.action, Hits: t.hits, Rcodes: t.rcodes, Exercised: true, ViaCNAME: t.viaCNAME})
		}
	}
	sort.Slice(r.AdHocRules, func(i, j int) bool { return r.AdHocRules[i].Name < r.AdHocRules[j].Name })
	for name, n := range c.queried {
		if !c.taken[name] {
			r.Unmatched = append(r.Unmatched, NameCount{Name: name, Queries: n})
		}
	}
	if c.otherNames > 0 || c.unfollowed > 0 {
		r.Overflow = &Overflow{Names: c.otherNames, Queries: c.otherQueries, Questions: c.unfollowed}
	}
	sort.Slice(r.Unmatched, func(i, j int) bool {
		a, b := r.Unmatched[i], r.Unmatched[j]
		return a.Queries > b.Queries || a.Queries == b.Queries && a.Name < b.Name
	})
	r.Clients = c.behavior(windows)
	var events []Call
	byProbe := map[string][]Call{}
	for _, call := range c.calls {
		if call.Probe == "" {
			events = append(events, call)
		} else {
			byProbe[call.Probe] = append(byProbe[call.Probe], call)
		}
	}
	r.Service, r.Recovery = c.service(events, windows, run)
	for i := range r.Service {
		if q := c.phaseQueries[r.Service[i].Phase]; r.Service[i].Calls > 0 {
			perCall := float64(q) / float64(r.Service[i].Calls)
			r.Service[i].QueriesPerCall = &perCall
		}
	}
	var subjects []subject
	if len(events) > 0 {
		subjects = append(subjects, subject{theService, r.Service, r.Recovery})
	}
	for probe, calls := range byProbe {
		pr := ProbeReport{Probe: probe}
		pr.Service, pr.Recovery = c.service(calls, windows, run)
		r.Probes = append(r.Probes, pr)
	}
	sort.Slice(r.Probes, func(i, j int) bool { return r.Probes[i].Probe < r.Probes[j].Probe })
	for _, pr := range r.Probes {
		subjects = append(subjects, subject{"probe " + pr.Probe, pr.Service, pr.Recovery})
	}
	r.ProbeQueries = c.probeQueries
	r.StampedCalls = c.stamped
	exp, defaulted := c.sc.Expect.Defaulted(c.sc.Phases)
	r.ExpectationsDefaulted = defaulted
	r.Expectations = append(c.expectations(exp, r.Clients), c.serviceExpectations(exp, subjects)...)
	for i := range r.Expectations {
		r.Expectations[i].Source = exp.Sources[r.Expectations[i].Name]
	}
	r.Verdict, r.ExitCode = verdict(r, run.AllowUnexercised)
	return r
}

// clip returns phase i's window as offsets from the start of the run,
// clipped to the run.
func (c *Collector) clip(i int, run Run) (from, to time.Duration) {
	begin, end := c.timeline.Window(i)
	if end.IsZero() || end.After(run.Ended) {
		end = run.Ended
	}
	if begin.Before(run.Started) {
		begin = run.Started
	}
	if !end.After(begin) {
		return 0, 0
	}
	return begin.Sub(run.Started), end.Sub(run.Started)
}

// span is a phase's part of the run.
type span struct{ from, to time.Time }

func (s span) seconds() float64 { return s.to.Sub(s.from).Seconds() }

func (c *Collector) behavior(windows map[string]span) []NameBehavior {
	var targets []string
	for name := range c.taken {
		targets = append(targets, name)
	}
	sort.Strings(targets)
	baseline := c.sc.Expect.Baseline
	out := []NameBehavior{}
	for _, name := range targets {
		b := NameBehavior{Name: name, Phases: []NamePhase{}}
		baseRate, assumed, short := c.baseRate(name, windows[baseline])
		for _, p := range c.sc.Phases {
			n := c.names[nameKey{name, p.Name}]
			if n == nil || windows[p.Name].seconds() <= 0 {
				continue
			}
			window := windows[p.Name].seconds()
			np := NamePhase{Phase: p.Name, Queries: n.queries, QPS: float64(n.queries) / window,
				PeakQPS: n.second.peak, Retries: n.retries, NewLookups: n.queries - n.retries, EarlyReasks: n.early}
			if p.Name != baseline && (window < minBaselineSeconds || window < 1 && n.queries < minBaselineQueries) {
				// A few queries in a sliver of a phase (the run ended as
				// it began) are no rate: over a second, not extrapolated.
				np.TooShort, np.QPS = true, float64(n.queries)/max(window, 1)
			}
			// Seconds are counted on the clock's boundaries, so a short
			// phase's queries split between two of them; the busiest
			// second is never less than the phase's average rate, nor
			// more than its queries.
			np.PeakQPS = max(np.PeakQPS, min(int(math.Round(np.QPS)), n.queries))
			switch {
			case p.Name != baseline && short:
				np.BaselineTooShort = true
			case p.Name != baseline && np.TooShort:
				// A rate over part of a second would be extrapolated.
			case p.Name != baseline && baseRate > 0:
				amp, peak := np.QPS/baseRate, float64(np.PeakQPS)/baseRate
				np.Amplification, np.PeakAmplification, np.BaselineAssumed = &amp, &peak, assumed
			}
			b.Phases = append(b.Phases, np)
		}
		out = append(out, b)
	}
	return out
}

// baseRate is name's query rate in the baseline window, counted from its
// first query there (a client that starts late does not dilute it), over
// at least a second; with no query there, one over the whole window,
// assumed. 0 when there is no baseline.
func (c *Collector) baseRate(name string, base span) (rate float64, assumed, short bool) {
	if base.seconds() <= 0 {
		return 0, false, false
	}
	n := c.names[nameKey{name, c.sc.Expect.Baseline}]
	if n == nil {
		return 1 / base.seconds(), true, false
	}
	from := base.from
	if n.first.After(from) {
		from = n.first
	}
	window := base.to.Sub(from).Seconds()
	if n.queries < minBaselineQueries || window < minBaselineSeconds {
		return 0, false, true // no rate worth dividing by
	}
	return float64(n.queries) / window, false, false
}

// A baseline rate needs minBaselineQueries queries of the name over at
// least minBaselineSeconds: fewer, and an amplification would be a
// number the data cannot support ("not enough baseline").
const (
	minBaselineQueries = 5
	minBaselineSeconds = 0.05
)

func (c *Collector) expectations(e scenarios.Expect, clients []NameBehavior) []Expectation {
	var out []Expectation
	check := func(name, limit string, broken func(np NamePhase) string) {
		x := Expectation{Name: name, Limit: limit, OK: true}
		var short, brief []string
		judged := false
		for _, b := range clients {
			for _, np := range b.Phases {
				if np.BaselineTooShort && strings.Contains(name, "amplification") {
					short = append(short, b.Name)
					continue
				}
				if np.TooShort && strings.Contains(name, "amplification") {
					brief = append(brief, np.Phase)
					continue
				}
				judged = judged || np.Amplification != nil || !strings.Contains(name, "amplification")
				if why := broken(np); why != "" {
					x.OK = false
					x.Breaches = append(x.Breaches, fmt.Sprintf("%s in phase %s: %s", b.Name, np.Phase, why))
				}
			}
		}
		switch {
		case len(clients) == 0:
			x.NotJudged = "no query took a rule: no target name to judge"
		case !judged && len(short) > 0:
			x.NotJudged = fmt.Sprintf("not enough baseline: fewer than %d queries of %s in phase %s", minBaselineQueries, strings.Join(slices.Compact(short), ", "), e.Baseline)
		case !judged && len(brief) > 0:
			x.NotJudged = fmt.Sprintf("the run saw too little of phase %s for a rate (under 50 ms, or under a second with fewer than %d queries of a name)", strings.Join(slices.Compact(brief), ", "), minBaselineQueries)
		case !judged:
			x.NotJudged = "no target name was asked both in the baseline and after it"
		}
		out = append(out, x)
	}
	if e.MaxAmplification > 0 {
		check("max_amplification", fmt.Sprintf("%g", e.MaxAmplification), func(np NamePhase) string {
			if np.Amplification == nil || *np.Amplification <= e.MaxAmplification {
				return ""
			}
			return fmt.Sprintf("%.1fx the baseline (%.1f q/s against %.1f q/s in %s)", *np.Amplification, np.QPS, np.QPS / *np.Amplification, e.Baseline)
		})
	}
	if e.MaxPeakAmplification > 0 {
		check("max_peak_amplification", fmt.Sprintf("%g", e.MaxPeakAmplification), func(np NamePhase) string {
			if np.PeakAmplification == nil || *np.PeakAmplification <= e.MaxPeakAmplification {
				return ""
			}
			return fmt.Sprintf("%.1fx the baseline in its busiest second (%d queries against %.1f q/s in %s)", *np.PeakAmplification, np.PeakQPS, float64(np.PeakQPS) / *np.PeakAmplification, e.Baseline)
		})
	}
	if e.MaxQPS > 0 {
		check("max_qps", fmt.Sprintf("%g", e.MaxQPS), func(np NamePhase) string {
			if float64(np.PeakQPS) <= e.MaxQPS {
				return ""
			}
			return fmt.Sprintf("%d queries in one second", np.PeakQPS)
		})
	}
	if e.HonoursTTL {
		check("honours_ttl", "true", func(np NamePhase) string {
			if np.EarlyReasks == 0 {
				return ""
			}
			return fmt.Sprintf("%d questions re-asked before the TTL of their answer ran out", np.EarlyReasks)
		})
	}
	if out == nil {
		return []Expectation{}
	}
	return out
}

// verdict picks the outcome: the command's failure first, then a broken
// expectation (the service misbehaved), then an unexercised rule (the test
// proved nothing).
func verdict(r *Report, allowUnexercised bool) (string, int) {
	switch {
	case r.CommandExitCode != 0:
		return "command-failed", r.CommandExitCode
	case broken(r.Expectations):
		return "expectation-failed", ExitExpectation
	case len(r.Unexercised) > 0 && !allowUnexercised:
		return "unexercised", ExitUnexercised
	}
	return "pass", 0
}

func broken(es []Expectation) bool {
	for _, e := range es {
		if !e.OK {
			return true
		}
	}
	return false
}

// unexercisedHint is the plain explanation printed with unexercised rules.
const unexercisedHint = "a chaos test whose fault never fired proves nothing. Likely causes: the client answered from a cache " +
	"(nscd, systemd-resolved, the JVM, a connection pool), used another resolver than $DNSFAULT_ADDR, " +
	"never needed the name, or finished before the rule's phase began"

func describeRules(refs []RuleRef) string {
	parts := make([]string, len(refs))
	for i, ref := range refs {
		parts[i] = fmt.Sprintf("%s (phase %s%s)", ref.Rule, ref.Phase, ref.why())
	}
	return strings.Join(parts, ", ")
}

// why says, from the server's counts, why a rule never fired: no
// question came while it was in force, none met its conditions, or its
// probability took none of those that did.
func (ref RuleRef) why() string {
	switch {
	case ref.Seen == nil:
		return ""
	case *ref.Seen == 0:
		return ": no question came while it was in force"
	case *ref.Matched == 0:
		return fmt.Sprintf(": %d questions came, none met its conditions", *ref.Seen)
	}
	return fmt.Sprintf(": %d of %d questions met its conditions, and its probability took none", *ref.Matched, *ref.Seen)
}
