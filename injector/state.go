package injector

import (
	"errors"
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
	// adhoc is the ad-hoc rules (adhoc.go), nil when there are none.
	adhoc *adhocSet
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
	s.announcer.poke()
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
			st.off = why // announced when it happened (announce.go)
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

// ErrMaxDurationReached is why Resume cannot turn faults back on.
var ErrMaxDurationReached = errors.New("max-duration reached: faults stay off for good (start dnsfault again for a new window)")

// ErrNoHeartbeat is what Heartbeat says to a server without a dead-man
// switch: the heartbeat changes nothing.
var ErrNoHeartbeat = errors.New("this server has no dead-man switch (serve --heartbeat D): a heartbeat changes nothing")

// Resume turns faults back on after an abort or a missed heartbeat, and
// counts as a heartbeat. It cannot undo --max-duration: it then says so
// and changes nothing. Faults the timeline holds off (not started, ended)
// stay off; the status says so.
func (s *Server) Resume(who string) error {
	now := s.cfg.Now()
	if s.cfg.MaxDuration > 0 && now.Sub(s.pipe.started) >= s.cfg.MaxDuration {
		s.cfg.Logger.Warn("resume refused: max-duration reached, faults stay off for good", "by", who)
		return ErrMaxDurationReached
	}
	s.Heartbeat()
	s.update(func(st *runState) error {
		st.off = ""
		return nil
	})
	_, off := s.pipe.position(s.pipe.state.Load(), now)
	if off != "" {
		s.cfg.Logger.Info("resume: the switches are off, but the timeline holds faults off", "why", off, "by", who)
		return nil
	}
	s.cfg.Logger.Info("resume: faults on", "by", who)
	return nil
}

// Heartbeat tells the dead-man switch the operator is still there. A
// heartbeat that comes after one was missed does not turn faults back on:
// it latches them off, as the miss did, until resume or load. Without a
// switch (Config.Heartbeat 0) it returns ErrNoHeartbeat.
func (s *Server) Heartbeat() error {
	now := s.cfg.Now()
	if s.pipe.heartbeatMissed(now) {
		s.trip(offHeartbeat)
	}
	s.pipe.lastBeat.Store(now.UnixNano())
	if s.cfg.Heartbeat == 0 {
		return ErrNoHeartbeat
	}
	return nil
}

// JumpTo moves the timeline so the named phase begins now. An abort stays
// in force: jumping does not turn faults back on. A timeline waiting for
// its first query starts with the jump: the operator took over.
func (s *Server) JumpTo(phase, who string) error {
	err := s.update(func(st *runState) error {
		for i, p := range st.plan.scenario.Phases {
			if p.Name == phase {
				st.timeline = st.timeline.JumpTo(i, s.cfg.Now())
				// Logged before the state is stored, so the phase it
				// begins is announced after it.
				s.cfg.Logger.Info("jump", "phase", phase, "by", who)
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
		s.announce(s.cfg.Now())
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
	p, err := compile(sc, &s.cfg, s.limiter, s.pipe.obs.metrics, s.mux, &s.keys)
	if err != nil {
		s.ReloadFailed(origin, err)
		return err
	}
	if resume {
		s.Heartbeat()
	}
	s.update(func(st *runState) error {
		// Logged before the state is stored, so the phase it begins is
		// announced after it.
		s.cfg.Logger.Info("scenario loaded; the timeline restarts", "scenario", sc.Name, "from", origin, "seed", int64(p.seed), "phases", len(sc.Phases))
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
	s.announce(s.cfg.Now())
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
		s.cfg.Logger.Info("the timeline starts", "by", why, "at", at.UTC())
		st.timeline = st.plan.scenario.Timeline(at, s.cfg.Speed)
		if st.off == offAwaiting {
			st.off = ""
		}
		started = st.timeline
		return nil
	})
	s.announce(s.cfg.Now())
	if s.cfg.OnTimelineStart != nil {
		s.cfg.OnTimelineStart(started)
	}
}
