package injector

import (
	"sync"
	"time"

	"github.com/dnsfault/dnsfault/scenarios"
)

// The log is the drill's timeline: besides the operators' actions (logged
// where they happen, with who did them), the changes that time alone
// makes are logged when they happen: a phase begins, the timeline ends,
// max-duration or a missed heartbeat turns faults off. position() is pure
// and queries never log, so a watcher wakes at each next boundary to say
// so; Status also looks, so a stepped clock (tests) is announced at once.

// announcer remembers what was last announced.
type announcer struct {
	mu      sync.Mutex
	last    announced
	lastNow time.Time     // the latest time announced at
	wake    chan struct{} // a control action changed the state
}

type announced struct {
	plan  *plan
	start time.Time // the timeline's start: a jump or a load moves it
	state scenarios.TimelineState
	phase int
	off   string
}

// poke wakes the watcher after a control action.
func (a *announcer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// watchTimeline announces until the server shuts down.
func (s *Server) watchTimeline() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.announce(s.cfg.Now())
		timer.Reset(next)
		select {
		case <-timer.C:
		case <-s.announcer.wake:
		case <-s.pipe.ctx.Done():
			return
		}
	}
}

// announce logs what changed since the last call and returns how long
// until the next change time alone would make.
func (s *Server) announce(now time.Time) time.Duration {
	// The watcher and Status both announce: one at a time, from reading
	// the state to logging, or one that read an older state could record
	// it last, and the next announcement would tell the timeline wrong.
	a := &s.announcer
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Before(a.lastNow) {
		now = a.lastNow // a caller that read the clock before another one did
	}
	a.lastNow = now
	st := s.pipe.state.Load()
	pos, off := s.pipe.position(st, now)
	cur := announced{plan: st.plan, start: st.timeline.Start, state: pos.State, phase: pos.Phase, off: off}
	prev := a.last
	a.last = cur
	log := s.cfg.Logger
	for _, i := range phasesBegun(prev, cur, len(st.plan.scenario.Phases)) {
		ph := st.plan.scenario.Phases[i]
		lasts := "until the end"
		if ph.Duration > 0 {
			lasts = (time.Duration(float64(ph.Duration) / st.timeline.Speed)).String()
		}
		args := []any{"phase", ph.Name, "index", i + 1, "of", len(st.plan.scenario.Phases), "lasts", lasts, "rules", len(ph.Rules)}
		if off != "" {
			args = append(args, "faults_off", off)
		}
		log.Info("phase begins", args...)
	}
	if cur.state == scenarios.Ended && prev.state != scenarios.Ended {
		log.Info("timeline ended: the scenario's faults are off", "scenario", st.plan.scenario.Name)
	}
	if cur.off != prev.off {
		switch cur.off {
		case offMaxDuration:
			log.Warn("max-duration reached: every fault is off for good", "max_duration", s.cfg.MaxDuration)
		case offHeartbeat:
			log.Warn("heartbeat missed: every fault is off until resume or load", "heartbeat", s.cfg.Heartbeat)
		}
	}
	return s.nextChange(st, pos, now)
}

// phasesBegun lists the phases that began between two announcements: on
// the same timeline, every phase after the last one announced, so a
// watcher woken late still tells each; on a new one (a load, a jump), the
// phase in force.
func phasesBegun(prev, cur announced, phases int) []int {
	if cur.off == offAwaiting || cur.state == scenarios.NotStarted {
		return nil
	}
	last := cur.phase
	if cur.state == scenarios.Ended {
		last = phases - 1
	}
	sameTimeline := cur.plan == prev.plan && cur.start.Equal(prev.start) && prev.off != offAwaiting
	first := cur.phase
	switch {
	case sameTimeline && prev.state == scenarios.Running:
		first = prev.phase + 1
	case sameTimeline && prev.state == scenarios.NotStarted:
		first = 0
	case sameTimeline: // ended before, ended now
		return nil
	case cur.state == scenarios.Ended:
		return nil
	}
	var out []int
	for i := first; i <= last; i++ {
		out = append(out, i)
	}
	return out
}

// nextChange is how long until time alone changes what announce sees: the
// phase's end, the timeline's start, max-duration or the heartbeat's
// deadline.
func (s *Server) nextChange(st *runState, pos scenarios.Position, now time.Time) time.Duration {
	next := time.Hour
	consider := func(d time.Duration) {
		if d > 0 && d < next {
			next = d
		}
	}
	if pos.State != scenarios.Ended {
		consider(pos.Left)
	}
	if s.cfg.MaxDuration > 0 {
		consider(s.pipe.started.Add(s.cfg.MaxDuration).Sub(now))
	}
	if s.cfg.Heartbeat > 0 {
		consider(time.Unix(0, s.pipe.lastBeat.Load()).Add(s.cfg.Heartbeat).Sub(now) + time.Millisecond)
	}
	return next + time.Millisecond // past the boundary, not at it
}
