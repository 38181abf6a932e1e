package injector

import (
	"time"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Status is the state of a running server, as GET /v1/status reports it.
// Durations are in seconds; a field that does not apply is left out.
type Status struct {
	Scenario    string  `json:"scenario"`
	Description string  `json:"description,omitempty"`
	Seed        int64   `json:"seed"`
	Speed       float64 `json:"speed"`
	// Timeline is not-started, running or ended.
	Timeline string `json:"timeline"`
	// Phase is the phase in force; faults may still be off.
	Phase               string   `json:"phase,omitempty"`
	PhaseIndex          int      `json:"phase_index"`
	PhaseElapsedSeconds float64  `json:"phase_elapsed_seconds"`
	PhaseLeftSeconds    *float64 `json:"phase_left_seconds,omitempty"`
	StartsInSeconds     *float64 `json:"starts_in_seconds,omitempty"`
	FaultsActive        bool     `json:"faults_active"`
	// FaultsOff says why faults are off: aborted, heartbeat missed,
	// max-duration reached, timeline ended, timeline not started.
	FaultsOff              string   `json:"faults_off,omitempty"`
	Aborted                bool     `json:"aborted"`
	MaxDurationLeftSeconds *float64 `json:"max_duration_left_seconds,omitempty"`
	HeartbeatLeftSeconds   *float64 `json:"heartbeat_left_seconds,omitempty"`
	InFlight               int64    `json:"in_flight"`
	Held                   int64    `json:"held"`
	// Panics counts queries whose handling panicked (each was answered
	// SERVFAIL); anything but 0 is a bug to report.
	Panics     uint64        `json:"panics"`
	Phases     []PhaseStatus `json:"phases"`
	LastReload *ReloadStatus `json:"last_reload,omitempty"`
}

// PhaseStatus is one phase of the scenario and its rules' hits.
type PhaseStatus struct {
	Name            string       `json:"name"`
	DurationSeconds float64      `json:"duration_seconds"` // 0: until the end
	Rules           []RuleStatus `json:"rules"`
}

// RuleStatus is one rule and how many queries it took since the scenario
// was loaded.
type RuleStatus struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Hits   uint64 `json:"hits"`
}

// ReloadStatus is the outcome of the last load or reload.
type ReloadStatus struct {
	Time   time.Time `json:"time"`
	Origin string    `json:"origin"`
	OK     bool      `json:"ok"`
	// Errors are the problems that kept it from loading, one per line of
	// the scenario (file:line:col: message).
	Errors []string `json:"errors,omitempty"`
}

// Status reports the server's state now.
func (s *Server) Status() Status {
	now := s.cfg.Now()
	st := s.state.Load()
	sc := st.plan.scenario
	pos, off := s.position(st, now)
	out := Status{
		Scenario:     sc.Name,
		Description:  sc.Description,
		Seed:         int64(st.plan.seed),
		Speed:        s.cfg.Speed,
		Timeline:     string(pos.State),
		FaultsActive: off == "",
		FaultsOff:    off,
		Aborted:      st.off != "",
		InFlight:     s.InFlight(),
		Held:         s.held.Load(),
		Panics:       s.panics.Load(),
	}
	switch pos.State {
	case scenarios.Running:
		out.Phase = sc.Phases[pos.Phase].Name
		out.PhaseIndex = pos.Phase
		out.PhaseElapsedSeconds = pos.Elapsed.Seconds()
		if sc.Phases[pos.Phase].Duration > 0 {
			out.PhaseLeftSeconds = seconds(pos.Left)
		}
	case scenarios.NotStarted:
		out.StartsInSeconds = seconds(pos.Left)
	}
	if s.cfg.MaxDuration > 0 {
		out.MaxDurationLeftSeconds = seconds(max(s.cfg.MaxDuration-now.Sub(s.started), 0))
	}
	if s.cfg.Heartbeat > 0 {
		out.HeartbeatLeftSeconds = seconds(max(s.cfg.Heartbeat-now.Sub(time.Unix(0, s.lastBeat.Load())), 0))
	}
	for i, p := range sc.Phases {
		ps := PhaseStatus{Name: p.Name, DurationSeconds: p.Duration.Seconds(), Rules: []RuleStatus{}}
		for _, r := range st.plan.phases[i].rules {
			ps.Rules = append(ps.Rules, RuleStatus{Name: r.spec.Name, Action: string(r.spec.Action), Hits: r.hits.Load()})
		}
		out.Phases = append(out.Phases, ps)
	}
	if r := s.reload.Load(); r != nil {
		out.LastReload = &ReloadStatus{Time: r.At.UTC(), Origin: r.Origin, OK: r.Err == nil, Errors: scenarios.Messages(r.Err)}
	}
	return out
}

func seconds(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
}
