package injector

import (
	"fmt"
	"time"

	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/scenarios"
)

// runState is everything a query needs to decide, swapped whole by control
// actions so queries read it with one atomic load and never take a lock.
type runState struct {
	plan     *plan
	timeline scenarios.Timeline
	// off, when not empty, says why an operator or a safety switch turned
	// every fault off: offAborted or offHeartbeat.
	off string
}

// Why faults are off.
const (
	offAborted     = "aborted"
	offHeartbeat   = "heartbeat missed"
	offMaxDuration = "max-duration reached"
	offEnded       = "timeline ended"
	offNotStarted  = "timeline not started"
	offAwaiting    = "timeline held until it starts (--start-when)"
)

// update applies change to a copy of the current state and stores it.
// Control actions are serialised here; queries never wait for them.
func (s *Server) update(change func(st *runState) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := *s.pipe.state.Load()
	if err := change(&next); err != nil {
		return err
	}
	s.pipe.state.Store(&next)
	return nil
}

// position returns where the timeline stands at now, and why faults are
// off, if they are. It only reads: a missed heartbeat is latched when the
// next heartbeat comes (see Heartbeat), and reads as off until then.
func (p *pipeline) position(st *runState, now time.Time) (scenarios.Position, string) {
	pos := st.timeline.At(now)
	switch {
	case st.off != "":
		return pos, st.off
	case p.cfg.MaxDuration > 0 && now.Sub(p.started) >= p.cfg.MaxDuration:
		return pos, offMaxDuration
	case p.heartbeatMissed(now):
		return pos, offHeartbeat
	case pos.State == scenarios.Ended:
		return pos, offEnded
	case pos.State == scenarios.NotStarted:
		return pos, offNotStarted
	}
	return pos, ""
}

func (p *pipeline) heartbeatMissed(now time.Time) bool {
	return p.cfg.Heartbeat > 0 && now.Sub(time.Unix(0, p.lastBeat.Load())) > p.cfg.Heartbeat
}

// trip turns every fault off for a safety switch, until resume or load.
func (s *Server) trip(why string) {
	s.update(func(st *runState) error {
		if st.off == "" {
			st.off = why
			s.cfg.Logger.Warn("faults off", "why", why)
		}
		return nil
	})
}

// Abort turns every fault off at once: the next query is answered
// normally. who names the operator for the log.
func (s *Server) Abort(who string) {
	s.update(func(st *runState) error {
		st.off = offAborted
		return nil
	})
	s.cfg.Logger.Warn("abort: every fault off", "by", who)
}

// Resume turns faults back on after an abort or a missed heartbeat, and
// counts as a heartbeat. It cannot undo --max-duration.
func (s *Server) Resume(who string) {
	s.Heartbeat()
	s.update(func(st *runState) error {
		st.off = ""
		return nil
	})
	s.cfg.Logger.Info("resume: faults on", "by", who)
}

// Heartbeat tells the dead-man switch the operator is still there. A
// heartbeat that comes after one was missed does not turn faults back on:
// it latches them off, as the miss did, until resume or load.
func (s *Server) Heartbeat() {
	now := s.cfg.Now()
	if s.pipe.heartbeatMissed(now) {
		s.trip(offHeartbeat)
	}
	s.pipe.lastBeat.Store(now.UnixNano())
}

// JumpTo moves the timeline so the named phase begins now. An abort stays
// in force: jumping does not turn faults back on. A timeline waiting for
// its first query starts with the jump: the operator took over.
func (s *Server) JumpTo(phase, who string) error {
	err := s.update(func(st *runState) error {
		for i, p := range st.plan.scenario.Phases {
			if p.Name == phase {
				st.timeline = st.timeline.JumpTo(i, s.cfg.Now())
				if st.off == offAwaiting {
					st.off = ""
					s.pipe.awaitFirst.Store(false)
					s.pipe.heldStarted.Store(true)
				}
				return nil
			}
		}
		return fmt.Errorf("%w: %q; the scenario has: %s", ErrNoSuchPhase, phase, phaseNames(st.plan.scenario))
	})
	if err == nil {
		s.cfg.Logger.Info("jump", "phase", phase, "by", who)
	}
	return err
}

// Timeline is the timeline in force.
func (s *Server) Timeline() scenarios.Timeline { return s.pipe.state.Load().timeline }

// ErrNoSuchPhase is returned by JumpTo for a phase the scenario lacks.
var ErrNoSuchPhase = fmt.Errorf("no such phase")

func phaseNames(sc *scenarios.Scenario) string {
	names := ""
	for i, p := range sc.Phases {
		if i > 0 {
			names += ", "
		}
		names += p.Name
	}
	return names
}

// Load swaps in a new scenario: its timeline starts now (or at its
// startAt). An operator's load (resume true) also ends an abort or a
// tripped heartbeat; a file changed on disk does not, so a drill that was
// stopped stays stopped.
func (s *Server) Load(sc *scenarios.Scenario, origin string, resume bool) error {
	p, err := compile(sc, &s.cfg, s.limiter, s.pipe.obs.metrics, s.mux)
	if err != nil {
		s.ReloadFailed(origin, err)
		return err
	}
	if resume {
		s.Heartbeat()
	}
	s.update(func(st *runState) error {
		st.plan = p
		st.timeline = sc.Timeline(s.cfg.Now(), s.cfg.Speed)
		if resume {
			st.off = ""
		}
		return nil
	})
	// The sockets to upstreams the new plan does not use close once the
	// queries waiting on them are answered.
	s.mux.Retain(upstream.AddrsOf(p.source.fwd))
	s.reload.Store(&reloadResult{At: s.cfg.Now(), Origin: origin})
	s.cfg.Logger.Info("scenario loaded; the timeline restarts", "scenario", sc.Name, "from", origin, "seed", int64(p.seed))
	return nil
}

// ReloadFailed records a scenario that could not be loaded; the running
// one keeps serving.
func (s *Server) ReloadFailed(origin string, err error) {
	s.reload.Store(&reloadResult{At: s.cfg.Now(), Origin: origin, Err: err})
	s.cfg.Logger.Error("scenario not loaded; the running one keeps serving", "from", origin, "err", err)
}

// reloadResult is the outcome of the last load or reload.
type reloadResult struct {
	At     time.Time
	Origin string
	Err    error
}

// StartTimeline starts a timeline held by Config.HoldTimeline now; it does
// nothing to one that has started.
func (s *Server) StartTimeline(why string) {
	if s.pipe.heldStarted.CompareAndSwap(false, true) {
		s.pipe.awaitFirst.Store(false)
		s.startHeld(s.cfg.Now(), why)
	}
}

// startOnFirstQuery starts the timeline held for the first query (Config.
// StartOnFirstQuery), which arrived at.
func (s *Server) startOnFirstQuery(at time.Time) {
	if s.pipe.heldStarted.CompareAndSwap(false, true) {
		s.startHeld(at, "the first query")
	}
}

// startHeld starts the held timeline at at.
func (s *Server) startHeld(at time.Time, why string) {
	var started scenarios.Timeline
	s.update(func(st *runState) error {
		st.timeline = st.plan.scenario.Timeline(at, s.cfg.Speed)
		if st.off == offAwaiting {
			st.off = ""
		}
		started = st.timeline
		return nil
	})
	s.cfg.Logger.Info("the timeline starts", "by", why, "at", at.UTC())
	if s.cfg.OnTimelineStart != nil {
		s.cfg.OnTimelineStart(started)
	}
}
