package injector

import (
	"time"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/scenarios"
)

// Status reports the server's state now.
func (s *Server) Status() control.Status {
	now := s.cfg.Now()
	s.announce(now)
	st := s.pipe.state.Load()
	sc := st.plan.scenario
	pos, off := s.pipe.position(st, now)
	out := control.Status{
		Scenario:      sc.Name,
		Description:   sc.Description,
		Seed:          int64(st.plan.seed),
		Speed:         s.cfg.Speed,
		TTLScale:      s.pipe.ttlScale,
		Timeline:      string(pos.State),
		FaultsActive:  off == "",
		FaultsOff:     off,
		Aborted:       st.off != "" || off == offHeartbeat,
		InFlight:      s.InFlight(),
		Held:          s.pipe.held.n.Load(),
		Panics:        s.pipe.panics.Load(),
		Listen:        listen.Display(s.addr),
		Upstream:      st.plan.upstream,
		Zones:         append([]string{}, st.plan.zones...),
		Signed:        append([]string(nil), st.plan.signed...),
		DNSSECAnchors: s.cfg.DNSSECAnchors,
		Record:        s.cfg.RecordPath,
		QueryLog:      s.cfg.QueryLogPath,
	}
	for _, p := range s.cfg.Allow {
		out.Allow = append(out.Allow, p.String())
	}
	out.QueryLogErrors, out.QueryLogError = s.pipe.obs.queryLog.lost()
	if e := s.recordErr.Load(); e != nil {
		out.RecordError = *e
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
		out.MaxDurationLeftSeconds = seconds(max(s.cfg.MaxDuration-now.Sub(s.pipe.started), 0))
	}
	if s.cfg.Heartbeat > 0 {
		out.HeartbeatLeftSeconds = seconds(max(s.cfg.Heartbeat-now.Sub(time.Unix(0, s.pipe.lastBeat.Load())), 0))
	}
	out.AdHoc = st.adhoc.status(now)
	for i, p := range sc.Phases {
		ps := control.PhaseStatus{Name: p.Name, DurationSeconds: p.Duration.Seconds(), Rules: []control.RuleStatus{}}
		ph := st.plan.phases[i]
		for _, r := range ph.rules {
			ps.Rules = append(ps.Rules, r.status(ph.seen.Load()))
		}
		out.Phases = append(out.Phases, ps)
	}
	if r := s.reload.Load(); r != nil {
		out.LastReload = &control.ReloadStatus{Time: r.At.UTC(), Origin: r.Origin, OK: r.Err == nil, Errors: scenarios.Messages(r.Err)}
	}
	return out
}

func seconds(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
}

// RecordWritten says how the last write of --record went (nil: it was
// written), for the status and the metrics: a recording that is not
// being saved must not say "recording".
func (s *Server) RecordWritten(err error) {
	if err == nil {
		s.recordErr.Store(nil)
		return
	}
	msg := err.Error()
	s.recordErr.Store(&msg)
	s.pipe.obs.metrics.recordErrors.Inc()
}
