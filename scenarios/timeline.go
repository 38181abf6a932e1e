package scenarios

import (
	"math"
	"time"
)

// Timeline places a scenario's phases on the wall clock. It is a value:
// jumping to a phase makes a new Timeline.
type Timeline struct {
	// Start is the wall-clock instant phase 0 began (or begins).
	Start time.Time
	// Speed runs every duration that many times faster: 60 replays an hour
	// in a minute.
	Speed   float64
	offsets []time.Duration // scenario time at which each phase starts
	lengths []time.Duration // each phase's duration; 0 = until the end
}

// Timeline returns the scenario's timeline starting at start, or at the
// scenario's startAt when it has one, so instances given the same file
// agree on the phase without talking to each other. speed <= 0 means 1.
func (sc *Scenario) Timeline(start time.Time, speed float64) Timeline {
	if !sc.StartAt.IsZero() {
		start = sc.StartAt
	}
	if speed <= 0 {
		speed = 1
	}
	tl := Timeline{Start: start, Speed: speed}
	var at time.Duration
	for _, p := range sc.Phases {
		tl.offsets = append(tl.offsets, at)
		tl.lengths = append(tl.lengths, p.Duration)
		at += p.Duration
	}
	return tl
}

// Position is where a timeline stands at an instant.
type Position struct {
	// State says whether a phase is in force.
	State TimelineState
	// Phase is the index of the phase in force (when State is Running).
	Phase int
	// Progress is how far through the phase, 0 to 1; always 0 for a phase
	// that lasts until the end.
	Progress float64
	// Elapsed is the wall-clock time since the phase began.
	Elapsed time.Duration
	// Left is the wall-clock time until the phase ends; 0 for a phase that
	// lasts until the end. Before the start, it is the time until it.
	Left time.Duration
}

// TimelineState says where an instant falls on a timeline.
type TimelineState string

// The states of a timeline.
const (
	NotStarted TimelineState = "not-started" // before Start (a startAt in the future)
	Running    TimelineState = "running"     // a phase is in force
	Ended      TimelineState = "ended"       // after the last timed phase: faults are off
)

// At returns the position at now.
func (tl Timeline) At(now time.Time) Position {
	wall := now.Sub(tl.Start)
	if wall < 0 {
		return Position{State: NotStarted, Left: -wall}
	}
	elapsed := tl.scale(wall)
	for i, length := range tl.lengths {
		in := elapsed - tl.offsets[i]
		if length == 0 {
			return Position{State: Running, Phase: i, Elapsed: tl.unscale(in)}
		}
		if in < length {
			return Position{State: Running, Phase: i, Progress: float64(in) / float64(length),
				Elapsed: tl.unscale(in), Left: tl.unscale(length - in)}
		}
	}
	return Position{State: Ended}
}

// JumpTo returns the timeline on which phase i begins at now.
func (tl Timeline) JumpTo(i int, now time.Time) Timeline {
	tl.Start = now.Add(-tl.unscale(tl.offsets[i]))
	return tl
}

// Window returns the wall-clock instants phase i begins and ends; end is
// the zero time for a phase that lasts until the end.
func (tl Timeline) Window(i int) (begin, end time.Time) {
	begin = tl.Start.Add(tl.unscale(tl.offsets[i]))
	if tl.lengths[i] > 0 {
		end = begin.Add(tl.unscale(tl.lengths[i]))
	}
	return begin, end
}

// Total is the wall-clock length of the timeline; 0 when its last phase
// lasts until the end.
func (tl Timeline) Total() time.Duration {
	n := len(tl.lengths)
	if n == 0 || tl.lengths[n-1] == 0 {
		return 0
	}
	return tl.unscale(tl.offsets[n-1] + tl.lengths[n-1])
}

// scale turns wall-clock time into scenario time.
func (tl Timeline) scale(d time.Duration) time.Duration {
	return time.Duration(math.Min(float64(d)*tl.Speed, math.MaxInt64))
}

// unscale turns scenario time into wall-clock time.
func (tl Timeline) unscale(d time.Duration) time.Duration {
	return time.Duration(float64(d) / tl.Speed)
}
