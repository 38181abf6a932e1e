package report

import (
	"fmt"

	"github.com/dnsfault/dnsfault/scenarios"
	"slices"
	"sort"
	"strings"
	"time"
)

// What the service did, as opposed to what its DNS queries did: the calls
// it made (its test's requests, from DNSFAULT_EVENTS), per phase, and how
// long it took to recover after the faults.

// Call is one call the service made, from Start to Time (its end), and
// how it went.
type Call struct {
	Start, Time time.Time
	OK          bool
	Latency     time.Duration // 0 when not known
	Error       string        // why it failed, as the caller said it
	// Stamped says the call came without a time: it was given the time
	// dnsfault read it.
	Stamped bool
	// Probe names the probe that made the call; empty for the service's
	// own (DNSFAULT_EVENTS).
	Probe string
	// NeverFinished says the call began (a line with its id and start)
	// and never ended within the run: it counts as failed where it began.
	NeverFinished bool
}

// ProbeReport is what one probe saw, apart from the service's own calls.
type ProbeReport struct {
	Probe    string         `json:"probe"`
	Service  []ServicePhase `json:"service"`
	Recovery *Recovery      `json:"recovery,omitempty"`
}

// DefaultRecoveryRun is how many successes in a row count as recovered
// unless Run.RecoveryRun says otherwise (--recovery-run).
const DefaultRecoveryRun = 3

// maxCalls bounds the calls kept for latency percentiles and recovery;
// past it calls are counted, not kept.
const maxCalls = 200_000

// ServicePhase is the service's calls in one phase.
type ServicePhase struct {
	Phase string `json:"phase"`
	Calls int    `json:"calls"`
	OK    int    `json:"ok"`
	// Availability is the share of calls that succeeded, in percent.
	Availability float64 `json:"availability"`
	// LatencyP50Ms and LatencyP99Ms are over the calls whose latency was
	// given.
	LatencyP50Ms *float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99Ms *float64 `json:"latency_p99_ms,omitempty"`
	// Errors counts the failures by class: dns (no such host, server
	// misbehaving), timeout, refused, http-NNN, or other.
	Errors map[string]int `json:"errors"`
	// NeverFinished counts the calls that began in the phase and had not
	// ended when the command did (counted as unavailable).
	NeverFinished int `json:"never_finished,omitempty"`
	// InFlightAtEnd counts the calls that began in this phase, one with
	// rules, and ended after it: they count as unavailable here, whatever
	// their outcome, since a call that hung through an outage did not
	// serve during it. (A call that began in a phase without rules and
	// ended in a later one counts in the later one.)
	InFlightAtEnd int `json:"in_flight_at_end"`
	// QueriesPerCall is the clients' DNS queries in the phase over the
	// service's calls begun in it (the probes' queries left out).
	QueriesPerCall *float64 `json:"queries_per_call,omitempty"`
}

// Recovery is how the service came back after the outage's cause was
// fixed: from the start of the phase marked fixed, or else from the end
// of the last phase with rules.
type Recovery struct {
	// FixedAtSeconds is the fix, in seconds from the run's start, and
	// FixedBy says which of the two it is.
	FixedAtSeconds float64 `json:"fixed_at_seconds"`
	FixedBy        string  `json:"fixed_by"`
	// State is recovered, never-failed (no call failed from the first
	// phase with rules on), never-recovered (not back within the run),
	// or not-reached (the run ended before the fix).
	State string `json:"state"`
	// FirstSuccess is from the fix to the first call that succeeded
	// after it; Healthy to the first of Run successes in a row (the
	// service back at its healthy level). Each in wall seconds and in
	// scenario seconds (wall times --speed); absent unless recovered.
	FirstSuccessSeconds         *float64 `json:"first_success_seconds,omitempty"`
	FirstSuccessScenarioSeconds *float64 `json:"first_success_scenario_seconds,omitempty"`
	HealthySeconds              *float64 `json:"healthy_seconds,omitempty"`
	HealthyScenarioSeconds      *float64 `json:"healthy_scenario_seconds,omitempty"`
	// Run is how many successes in a row counted as back to healthy.
	Run int `json:"run"`
}

// The states of a Recovery.
const (
	Recovered      = "recovered"
	NeverFailed    = "never-failed"
	NeverRecovered = "never-recovered"
	NotReached     = "not-reached"
)

// Call records one call of the service; safe for concurrent use.
func (c *Collector) Call(call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if call.Stamped {
		c.stamped++
	}
	if len(c.calls) < maxCalls {
		c.calls = append(c.calls, call)
	} else {
		c.callsDropped++
	}
}

// service reports the calls per phase, and the recovery.
func (c *Collector) service(calls []Call, windows map[string]span, run Run) ([]ServicePhase, *Recovery) {
	if len(calls) == 0 {
		return []ServicePhase{}, nil
	}
	calls = slices.Clone(calls)
	sort.Slice(calls, func(i, j int) bool { return calls[i].Time.Before(calls[j].Time) })
	out := []ServicePhase{}
	// Each phase's window; the run's last instant belongs to its last phase.
	spans := make([]span, len(c.sc.Phases))
	for i, p := range c.sc.Phases {
		spans[i] = windows[p.Name]
		if spans[i].to.Equal(run.Ended) {
			spans[i].to = spans[i].to.Add(1)
		}
	}
	phaseAt := func(t time.Time) int {
		for i, w := range spans {
			if !t.Before(w.from) && t.Before(w.to) {
				return i
			}
		}
		return -1
	}
	tallies := make([]ServicePhase, len(c.sc.Phases))
	latencies := make([][]time.Duration, len(c.sc.Phases))
	for i, p := range c.sc.Phases {
		tallies[i] = ServicePhase{Phase: p.Name, Errors: map[string]int{}}
	}
	for _, call := range calls {
		start := call.Start
		if start.IsZero() {
			start = call.Time
		}
		// A call counts in the phase it began in, unless that phase has
		// no rules and the call ended in a later one: what it met there
		// is what its outcome says.
		home, ended := phaseAt(start), phaseAt(call.Time)
		if call.NeverFinished {
			ended = home
		}
		if home < 0 {
			continue
		}
		spanned := ended != home
		if spanned && len(c.sc.Phases[home].Rules) == 0 && ended >= 0 {
			home, spanned = ended, false
		}
		sp := &tallies[home]
		sp.Calls++
		switch {
		case call.NeverFinished:
			sp.NeverFinished++
			sp.Errors["never-finished"]++
		case spanned:
			// Begun in an outage and ended after it: it did not serve
			// during the outage, whatever its outcome.
			sp.InFlightAtEnd++
			sp.Errors["in-flight-at-phase-end"]++
		case call.OK:
			sp.OK++
		default:
			sp.Errors[errorClass(call.Error)]++
		}
		if call.Latency > 0 {
			latencies[home] = append(latencies[home], call.Latency)
		}
	}
	for i, sp := range tallies {
		if sp.Calls == 0 {
			continue
		}
		sp.Availability = 100 * float64(sp.OK) / float64(sp.Calls)
		if l := latencies[i]; len(l) > 0 {
			slices.Sort(l)
			p50, p99 := ms(percentile(l, 0.5)), ms(percentile(l, 0.99))
			sp.LatencyP50Ms, sp.LatencyP99Ms = &p50, &p99
		}
		out = append(out, sp)
	}
	return out, c.recovery(calls, windows, run)
}

// recovery measures from the fix (the phase marked fixed, or else the
// end of the last phase with rules) to the service's first success and
// to its first run.RecoveryRun successes in a row; nil when the scenario
// has no phase with rules.
func (c *Collector) recovery(calls []Call, windows map[string]span, run Run) *Recovery {
	firstFault, lastFault, fixed := -1, -1, -1
	for i, p := range c.sc.Phases {
		if len(p.Rules) > 0 {
			if firstFault < 0 {
				firstFault = i
			}
			lastFault = i
		}
		if p.Fixed {
			fixed = i
		}
	}
	if lastFault < 0 {
		return nil
	}
	r := &Recovery{Run: run.RecoveryRun}
	if r.Run < 1 {
		r.Run = DefaultRecoveryRun
	}
	var fixAt time.Time
	if fixed >= 0 {
		r.FixedBy = fmt.Sprintf("phase %s, marked fixed, began", c.sc.Phases[fixed].Name)
		if w := windows[c.sc.Phases[fixed].Name]; w.seconds() > 0 {
			fixAt = w.from
		}
	} else {
		r.FixedBy = fmt.Sprintf("the last phase with rules, %s, ended", c.sc.Phases[lastFault].Name)
		w := windows[c.sc.Phases[lastFault].Name]
		if next := lastFault + 1; w.seconds() > 0 && (next == len(c.sc.Phases) && w.to.Before(run.Ended) || next < len(c.sc.Phases) && windows[c.sc.Phases[next].Name].seconds() > 0) {
			fixAt = w.to
		}
	}
	if fixAt.IsZero() {
		r.State = NotReached
		return r
	}
	r.FixedAtSeconds = fixAt.Sub(run.Started).Seconds()
	faultsFrom := windows[c.sc.Phases[firstFault].Name].from
	failed := false
	for _, call := range calls {
		if !call.OK && !call.Time.Before(faultsFrom) {
			failed = true
			break
		}
	}
	if !failed {
		r.State = NeverFailed
		return r
	}
	speed := max(run.Speed, 1)
	seconds := func(t time.Time) (*float64, *float64) {
		wall := t.Sub(fixAt).Seconds()
		scenario := wall * speed
		return &wall, &scenario
	}
	streak := 0
	var first time.Time
	for _, call := range calls {
		if call.Time.Before(fixAt) {
			continue
		}
		if !call.OK {
			streak = 0
			continue
		}
		if r.FirstSuccessSeconds == nil {
			r.FirstSuccessSeconds, r.FirstSuccessScenarioSeconds = seconds(call.Time)
		}
		if streak == 0 {
			first = call.Time
		}
		if streak++; streak == r.Run {
			r.HealthySeconds, r.HealthyScenarioSeconds = seconds(first)
			r.State = Recovered
			return r
		}
	}
	r.State = NeverRecovered
	return r
}

// dnsErrors are how clients say a name did not resolve: Go, glibc
// (getaddrinfo), curl (exit 6), Java, Node, .NET, and botocore, whose
// "could not connect to the endpoint URL" wraps a failed lookup.
var dnsErrors = []string{
	"no such host", "server misbehaving", "lookup ", "dns",
	"name or service not known", "temporary failure in name resolution", "nodename nor servname",
	"could not resolve host", "curl: (6)",
	"unknownhostexception",
	"enotfound", "eai_again",
	"no such host is known", "hostnotfound",
	"could not connect to the endpoint url",
}

// errorClass sorts a failure by what it says.
func errorClass(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case slices.ContainsFunc(dnsErrors, func(s string) bool { return strings.Contains(m, s) }):
		return "dns"
	case strings.Contains(m, "timeout"), strings.Contains(m, "deadline exceeded"), strings.Contains(m, "timed out"):
		return "timeout"
	case strings.Contains(m, "refused"):
		return "refused"
	case strings.HasPrefix(m, "http "), strings.HasPrefix(m, "status "):
		if f := strings.Fields(m); len(f) > 1 {
			return "http-" + f[1]
		}
	}
	return "other"
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// subject is what the service expectations judge: the service's own
// calls (DNSFAULT_EVENTS), or one probe's.
type subject struct {
	name   string // "the service", or "probe URL"
	phases []ServicePhase
	rec    *Recovery
}

// serviceExpectations checks min_availability and max_recovery on each
// subject: the service's calls, and each probe apart.
func (c *Collector) serviceExpectations(e scenarios.Expect, subjects []subject) []Expectation {
	var out []Expectation
	prefix := func(s subject) string {
		if len(subjects) == 1 && s.name == theService {
			return ""
		}
		return s.name + ": "
	}
	if len(e.MinAvailability) > 0 {
		var limits []string
		for _, p := range c.sc.Phases {
			if v, ok := e.MinAvailability[p.Name]; ok {
				limits = append(limits, fmt.Sprintf("%s %g%%", p.Name, v))
			}
		}
		if v, ok := e.MinAvailability[""]; ok {
			limits = append([]string{fmt.Sprintf("%g%%", v)}, limits...)
		}
		x := Expectation{Name: "min_availability", Limit: strings.Join(limits, ", "), OK: true}
		for _, s := range subjects {
			for _, sp := range s.phases {
				limit, ok := e.MinAvailability[sp.Phase]
				if !ok {
					limit, ok = e.MinAvailability[""]
				}
				if ok && sp.Availability < limit {
					x.OK = false
					x.Breaches = append(x.Breaches, fmt.Sprintf("%sphase %s: %.1f%% of %d calls succeeded, under %g%%", prefix(s), sp.Phase, sp.Availability, sp.Calls, limit))
				}
			}
		}
		if len(subjects) == 0 {
			x.OK = false
			x.Breaches = append(x.Breaches, "no call of the service was reported (DNSFAULT_EVENTS, or --probe)")
		}
		out = append(out, x)
	}
	if e.MaxRecovery > 0 {
		x := Expectation{Name: "max_recovery", Limit: e.MaxRecovery.String() + " (scenario time)", OK: true}
		var measured, notJudged []string
		for _, s := range subjects {
			rec := s.rec
			switch {
			case rec == nil:
				notJudged = append(notJudged, prefix(s)+"the scenario has no phase with rules, so nothing to recover from")
			case rec.State == NotReached:
				notJudged = append(notJudged, prefix(s)+"the run ended before the cause was fixed ("+rec.FixedBy+" after it)")
			case rec.State == NeverFailed:
				measured = append(measured, prefix(s)+"never failed")
			case rec.State == NeverRecovered:
				x.OK = false
				measured = append(measured, prefix(s)+"never recovered")
				x.Breaches = append(x.Breaches, fmt.Sprintf("%snot back (%d successes in a row) within the run after the fix (%s)", prefix(s), rec.Run, rec.FixedBy))
			default:
				took := time.Duration(*rec.HealthyScenarioSeconds * float64(time.Second))
				measured = append(measured, fmt.Sprintf("%s%v after the fix", prefix(s), took.Round(time.Millisecond)))
				if took > e.MaxRecovery {
					x.OK = false
					x.Breaches = append(x.Breaches, fmt.Sprintf("%sback at its healthy level %v after the fix (scenario time; %.1fs of wall time)", prefix(s), took.Round(time.Millisecond), *rec.HealthySeconds))
				}
			}
		}
		x.Measured = strings.Join(measured, "; ")
		switch {
		case len(subjects) == 0:
			x.NotJudged = "no call of the service was reported (DNSFAULT_EVENTS, or --probe)"
		case len(measured) == 0:
			x.NotJudged = strings.Join(notJudged, "; ")
		}
		out = append(out, x)
	}
	return out
}

// theService names the service's own calls among the subjects.
const theService = "the service"
