package report

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// What the service did, as opposed to what its DNS queries did: the calls
// it made (its test's requests, from DNSFAULT_EVENTS), per phase, and how
// long it took to recover after the faults.

// Call is one call the service made, and how it went.
type Call struct {
	Time    time.Time
	OK      bool
	Latency time.Duration // 0 when not known
	Error   string        // why it failed, as the caller said it
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
}

// Recovery is how long the service took to come back after the faults.
type Recovery struct {
	// FaultsEnded is when the last phase with rules ended, in seconds
	// from the run's start.
	FaultsEndedSeconds float64 `json:"faults_ended_seconds"`
	// Seconds is from then to the first of Run successes in a row;
	// absent when the service never recovered within the run.
	Seconds *float64 `json:"seconds,omitempty"`
	// Run is how many successes in a row counted as recovered.
	Run int `json:"run"`
}

// Call records one call of the service; safe for concurrent use.
func (c *Collector) Call(call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.calls) < maxCalls {
		c.calls = append(c.calls, call)
	} else {
		c.callsDropped++
	}
}

// service reports the calls per phase, and the recovery.
func (c *Collector) service(windows map[string]span, run Run) ([]ServicePhase, *Recovery) {
	if len(c.calls) == 0 {
		return []ServicePhase{}, nil
	}
	calls := slices.Clone(c.calls)
	sort.Slice(calls, func(i, j int) bool { return calls[i].Time.Before(calls[j].Time) })
	out := []ServicePhase{}
	for _, p := range c.sc.Phases {
		w := windows[p.Name]
		if w.to.Equal(run.Ended) {
			w.to = w.to.Add(1) // the run's last instant belongs to its last phase
		}
		sp := ServicePhase{Phase: p.Name, Errors: map[string]int{}}
		var latencies []time.Duration
		for _, call := range calls {
			if call.Time.Before(w.from) || !call.Time.Before(w.to) {
				continue
			}
			sp.Calls++
			if call.OK {
				sp.OK++
			} else {
				sp.Errors[errorClass(call.Error)]++
			}
			if call.Latency > 0 {
				latencies = append(latencies, call.Latency)
			}
		}
		if sp.Calls == 0 {
			continue
		}
		sp.Availability = 100 * float64(sp.OK) / float64(sp.Calls)
		if len(latencies) > 0 {
			slices.Sort(latencies)
			p50, p99 := ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99))
			sp.LatencyP50Ms, sp.LatencyP99Ms = &p50, &p99
		}
		out = append(out, sp)
	}
	return out, c.recovery(calls, windows, run)
}

// recovery measures from the end of the last phase with rules to the
// first of run.RecoveryRun successes in a row after it; nil when no phase
// with rules ended within the run.
func (c *Collector) recovery(calls []Call, windows map[string]span, run Run) *Recovery {
	var ended time.Time
	for i, p := range c.sc.Phases {
		if len(p.Rules) == 0 {
			continue
		}
		if w := windows[p.Name]; w.seconds() > 0 && (i == len(c.sc.Phases)-1 && w.to.Before(run.Ended) || i < len(c.sc.Phases)-1 && windows[c.sc.Phases[i+1].Name].seconds() > 0) {
			ended = w.to
		}
	}
	if ended.IsZero() {
		return nil
	}
	r := &Recovery{FaultsEndedSeconds: ended.Sub(run.Started).Seconds(), Run: run.RecoveryRun}
	if r.Run < 1 {
		r.Run = DefaultRecoveryRun
	}
	streak := 0
	var first time.Time
	for _, call := range calls {
		if call.Time.Before(ended) {
			continue
		}
		if !call.OK {
			streak = 0
			continue
		}
		if streak == 0 {
			first = call.Time
		}
		if streak++; streak == r.Run {
			s := first.Sub(ended).Seconds()
			r.Seconds = &s
			break
		}
	}
	return r
}

// errorClass sorts a failure by what it says.
func errorClass(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "no such host"), strings.Contains(m, "server misbehaving"), strings.Contains(m, "lookup "), strings.Contains(m, "dns"):
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

// serviceExpectations checks min_availability and max_recovery.
func (c *Collector) serviceExpectations(phases []ServicePhase, rec *Recovery, speed float64) []Expectation {
	e := c.sc.Expect
	var out []Expectation
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
		for _, sp := range phases {
			limit, ok := e.MinAvailability[sp.Phase]
			if !ok {
				limit, ok = e.MinAvailability[""]
			}
			if ok && sp.Availability < limit {
				x.OK = false
				x.Breaches = append(x.Breaches, fmt.Sprintf("phase %s: %.1f%% of %d calls succeeded, under %g%%", sp.Phase, sp.Availability, sp.Calls, limit))
			}
		}
		if len(phases) == 0 {
			x.OK = false
			x.Breaches = append(x.Breaches, "no call of the service was reported (DNSFAULT_EVENTS)")
		}
		out = append(out, x)
	}
	if e.MaxRecovery > 0 {
		x := Expectation{Name: "max_recovery", Limit: e.MaxRecovery.String(), OK: true}
		switch {
		case rec == nil:
			x.OK = false
			x.Breaches = append(x.Breaches, "the faults did not end within the run")
		case rec.Seconds == nil:
			x.OK = false
			x.Breaches = append(x.Breaches, fmt.Sprintf("the service did not recover (%d successes in a row) after the faults ended", rec.Run))
		default:
			// In scenario time, like every duration of the scenario.
			took := time.Duration(*rec.Seconds * speed * float64(time.Second))
			if took > e.MaxRecovery {
				x.OK = false
				x.Breaches = append(x.Breaches, fmt.Sprintf("recovered %v after the faults ended (scenario time)", took.Round(time.Millisecond)))
			}
		}
		out = append(out, x)
	}
	return out
}
