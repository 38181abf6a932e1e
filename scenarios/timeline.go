package scenarios

import "time"

// PhaseAt returns the phase in force after elapsed time since the start of
// the scenario, and how far through it that is (0 to 1; 0 for a phase that
// lasts until the end). ok is false after the last timed phase: faults are
// off.
func (sc *Scenario) PhaseAt(elapsed time.Duration) (index int, progress float64, ok bool) {
	if elapsed < 0 {
		elapsed = 0
	}
	for i, p := range sc.Phases {
		if p.Duration == 0 {
			return i, 0, true
		}
		if elapsed < p.Duration {
			return i, float64(elapsed) / float64(p.Duration), true
		}
		elapsed -= p.Duration
	}
	return 0, 0, false
}
