package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/dnsfault/dnsfault/scenarios"
)

// A Chaos Toolkit journal of a run (chaostoolkit.org/reference/api/journal),
// so that teams who keep their experiments' journals, and `chaos report`,
// take dnsfault's runs as they take their other experiments'. The
// experiment is the scenario: its phases are the method's actions, its
// probes the steady-state hypothesis. The steady state before is the
// baseline phase's, after the last phase's; each phase is an action run.

// Journal is the journal's JSON object: the required properties
// (experiment, status, start, end, duration), the recommended ones
// (steady_states, run, rollbacks), and dnsfault's verdict apart.
type Journal struct {
	ChaoslibVersion string       `json:"chaoslib-version"`
	Platform        string       `json:"platform"`
	Node            string       `json:"node"`
	Experiment      Experiment   `json:"experiment"`
	Status          string       `json:"status"`
	Deviated        bool         `json:"deviated"`
	Start           string       `json:"start"`
	End             string       `json:"end"`
	Duration        float64      `json:"duration"`
	SteadyStates    SteadyStates `json:"steady_states"`
	Run             []RunResult  `json:"run"`
	Rollbacks       []RunResult  `json:"rollbacks"`
	// Dnsfault is the run's verdict and exit status, as its report says.
	Dnsfault JournalVerdict `json:"dnsfault"`
}

// Experiment is the Chaos Toolkit experiment a run was.
type Experiment struct {
	Version     string      `json:"version"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Tags        []string    `json:"tags"`
	Hypothesis  *Hypothesis `json:"steady-state-hypothesis,omitempty"`
	Method      []Activity  `json:"method"`
	Rollbacks   []Activity  `json:"rollbacks"`
}

// Hypothesis is the steady state: each probe answers.
type Hypothesis struct {
	Title  string     `json:"title"`
	Probes []Activity `json:"probes"`
}

// Activity is a probe or an action of the experiment.
type Activity struct {
	Type      string         `json:"type"` // probe or action
	Name      string         `json:"name"`
	Provider  map[string]any `json:"provider"`
	Tolerance any            `json:"tolerance,omitempty"`
	Pauses    map[string]any `json:"pauses,omitempty"`
}

// SteadyStates are the hypothesis's outcomes before and after the method.
type SteadyStates struct {
	Before *SteadyState `json:"before,omitempty"`
	After  *SteadyState `json:"after,omitempty"`
}

// SteadyState is one outcome of the hypothesis.
type SteadyState struct {
	Met    bool          `json:"steady_state_met"`
	Probes []ProbeResult `json:"probes"`
}

// ProbeResult is a probe's outcome over one phase.
type ProbeResult struct {
	RunResult
	ToleranceMet bool `json:"tolerance_met"`
}

// RunResult is the outcome of an activity.
type RunResult struct {
	Activity Activity `json:"activity"`
	Status   string   `json:"status"` // succeeded or failed
	Start    string   `json:"start"`
	End      string   `json:"end"`
	Duration float64  `json:"duration"`
	Output   *string  `json:"output"`
}

// JournalVerdict is dnsfault's own verdict of the run.
type JournalVerdict struct {
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exit_code"`
	Scenario string `json:"scenario"`
	Seed     int64  `json:"seed"`
}

// Journal makes the run's journal: sc the scenario run, version
// dnsfault's.
func (r *Report) Journal(sc *scenarios.Scenario, version string) *Journal {
	at := func(seconds float64) time.Time { return r.Started.Add(time.Duration(seconds * float64(time.Second))) }
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	node, _ := os.Hostname()
	description := strings.TrimSpace(sc.Description)
	if description == "" {
		description = "dnsfault replays scenario " + sc.Name + " while the command runs: " + strings.Join(r.Command, " ")
	}
	j := &Journal{
		ChaoslibVersion: "dnsfault " + version, Platform: runtime.GOOS + " " + runtime.GOARCH, Node: node,
		Experiment: Experiment{Version: "1.0.0", Title: sc.Name, Description: description, Tags: []string{"dns", "dnsfault"},
			Method: []Activity{}, Rollbacks: []Activity{}},
		Status: "completed", Deviated: r.Verdict != "pass",
		Start: stamp(r.Started), End: stamp(at(r.DurationSeconds)), Duration: r.DurationSeconds,
		Run: []RunResult{}, Rollbacks: []RunResult{},
		Dnsfault: JournalVerdict{Verdict: r.Verdict, ExitCode: r.ExitCode, Scenario: r.Scenario, Seed: r.Seed},
	}
	for _, p := range r.Phases {
		var rules []string
		for _, rule := range p.Rules {
			rules = append(rules, fmt.Sprintf("%s (%s): %d queries", rule.Name, rule.Action, rule.Hits))
		}
		act := Activity{Type: "action", Name: "phase " + p.Name,
			Provider: map[string]any{"type": "process", "path": "dnsfault", "arguments": map[string]any{"phase": p.Name}}}
		j.Experiment.Method = append(j.Experiment.Method, act)
		if !p.Reached {
			continue
		}
		out := "no rules: answered normally"
		if len(rules) > 0 {
			out = strings.Join(rules, "; ")
		}
		status := "succeeded"
		for _, u := range r.Unexercised {
			if u.Phase == p.Name {
				status, out = "failed", out+"; never exercised: "+u.Rule+u.why()
			}
		}
		j.Run = append(j.Run, RunResult{Activity: act, Status: status, Start: stamp(at(p.FromSeconds)), End: stamp(at(p.ToSeconds)),
			Duration: p.ToSeconds - p.FromSeconds, Output: &out})
	}
	if len(r.Probes) == 0 {
		return j
	}
	h := &Hypothesis{Title: "every probe of the service succeeds", Probes: []Activity{}}
	byName := map[string]Activity{}
	for _, pr := range r.Probes {
		provider := map[string]any{"type": "http", "url": pr.Probe}
		if command, isExec := strings.CutPrefix(pr.Probe, "exec:"); isExec {
			provider = map[string]any{"type": "process", "path": strings.TrimSpace(command)}
		}
		a := Activity{Type: "probe", Name: pr.Probe, Provider: provider, Tolerance: true}
		h.Probes = append(h.Probes, a)
		byName[pr.Probe] = a
	}
	j.Experiment.Hypothesis = h
	phaseAt := func(name string) (Phase, bool) {
		for _, p := range r.Phases {
			if p.Name == name {
				return p, p.Reached
			}
		}
		return Phase{}, false
	}
	state := func(phase string) *SteadyState {
		p, ok := phaseAt(phase)
		if !ok {
			return nil
		}
		st := &SteadyState{Met: true, Probes: []ProbeResult{}}
		for _, pr := range r.Probes {
			for _, sp := range pr.Service {
				if sp.Phase != phase {
					continue
				}
				met := sp.Calls > 0 && sp.OK == sp.Calls
				out := fmt.Sprintf("%d calls in phase %s, %.1f%% available", sp.Calls, phase, sp.Availability)
				status := "succeeded"
				if !met {
					status = "failed"
				}
				st.Met = st.Met && met
				st.Probes = append(st.Probes, ProbeResult{RunResult: RunResult{Activity: byName[pr.Probe], Status: status,
					Start: stamp(at(p.FromSeconds)), End: stamp(at(p.ToSeconds)), Duration: p.ToSeconds - p.FromSeconds, Output: &out}, ToleranceMet: met})
			}
		}
		if len(st.Probes) == 0 {
			return nil // no probe call in the phase: the hypothesis was not tried
		}
		return st
	}
	if len(r.Phases) > 0 {
		baseline := sc.Expect.Baseline
		if baseline == "" {
			baseline = r.Phases[0].Name
		}
		j.SteadyStates.Before = state(baseline)
		j.SteadyStates.After = state(r.Phases[len(r.Phases)-1].Name)
		if after := j.SteadyStates.After; after != nil && !after.Met {
			j.Deviated = true
		}
	}
	return j
}

// WriteJSON writes the journal as indented JSON.
func (j *Journal) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
