package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/scenarios"
)

func parse(t *testing.T, text string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("s.yaml", []byte(text), scenarios.Options{})
	require.NoError(t, err)
	return sc
}

var t0 = time.Date(2025, 10, 20, 6, 48, 0, 0, time.UTC)

func TestTimelineCrossesEveryBoundary(t *testing.T) {
	sc := parse(t, "version: 1\nphases:\n  - {name: healthy, duration: 10s}\n  - {name: outage, duration: 20s}\n  - {name: recovery, duration: 30s}\n")
	tl := sc.Timeline(t0, 1)
	cases := []struct {
		at   time.Duration
		want scenarios.Position
	}{
		{0, scenarios.Position{State: scenarios.Running, Phase: 0, Progress: 0, Elapsed: 0, Left: 10 * time.Second}},
		{10*time.Second - 1, scenarios.Position{State: scenarios.Running, Phase: 0, Progress: float64(10*time.Second-1) / float64(10*time.Second), Elapsed: 10*time.Second - 1, Left: 1}},
		{10 * time.Second, scenarios.Position{State: scenarios.Running, Phase: 1, Progress: 0, Elapsed: 0, Left: 20 * time.Second}},
		{25 * time.Second, scenarios.Position{State: scenarios.Running, Phase: 1, Progress: 0.75, Elapsed: 15 * time.Second, Left: 5 * time.Second}},
		{30 * time.Second, scenarios.Position{State: scenarios.Running, Phase: 2, Progress: 0, Elapsed: 0, Left: 30 * time.Second}},
		{60*time.Second - 1, scenarios.Position{State: scenarios.Running, Phase: 2, Progress: float64(30*time.Second-1) / float64(30*time.Second), Elapsed: 30*time.Second - 1, Left: 1}},
		{60 * time.Second, scenarios.Position{State: scenarios.Ended}},
		{time.Hour, scenarios.Position{State: scenarios.Ended}},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tl.At(t0.Add(tc.at)), "at %v", tc.at)
	}
	assert.Equal(t, 60*time.Second, tl.Total())
}

func TestAnEndlessLastPhaseNeverEnds(t *testing.T) {
	sc := parse(t, "version: 1\nphases:\n  - {name: a, duration: 1m}\n  - {name: b}\n")
	tl := sc.Timeline(t0, 1)
	pos := tl.At(t0.Add(100 * time.Hour))
	assert.Equal(t, scenarios.Running, pos.State)
	assert.Equal(t, 1, pos.Phase)
	assert.Zero(t, pos.Progress, "a ramp in an endless phase holds its from value")
	assert.Zero(t, pos.Left)
	assert.Zero(t, tl.Total())
}

func TestSpeedDividesEveryDuration(t *testing.T) {
	sc := parse(t, "version: 1\nphases:\n  - {name: healthy, duration: 30s}\n  - {name: outage, duration: 2h30m}\n  - {name: recovery, duration: 1h}\n")
	tl := sc.Timeline(t0, 60)
	assert.Equal(t, 0, tl.At(t0.Add(499*time.Millisecond)).Phase)
	pos := tl.At(t0.Add(500 * time.Millisecond))
	assert.Equal(t, 1, pos.Phase, "30 s at 60x is half a second")
	assert.Equal(t, 150*time.Second, pos.Left, "time left is wall-clock time")
	pos = tl.At(t0.Add(500*time.Millisecond + 75*time.Second))
	assert.Equal(t, 0.5, pos.Progress, "progress, and so ramps, follow the sped-up clock")
	assert.Equal(t, scenarios.Ended, tl.At(t0.Add(500*time.Millisecond+150*time.Second+60*time.Second)).State)
	assert.Equal(t, 210500*time.Millisecond, tl.Total())
	begin, end := tl.Window(1)
	assert.Equal(t, t0.Add(500*time.Millisecond), begin)
	assert.Equal(t, t0.Add(500*time.Millisecond+150*time.Second), end)
}

func TestStartAtAnchorsTheTimeline(t *testing.T) {
	sc := parse(t, "version: 1\nstartAt: 2025-10-20T06:48:00Z\nphases:\n  - {name: healthy, duration: 10m}\n  - {name: outage, duration: 1h}\n")
	// Two instances loading the file at different times agree on the phase.
	early := sc.Timeline(t0.Add(-5*time.Minute), 1)
	late := sc.Timeline(t0.Add(20*time.Minute), 1)
	at := t0.Add(15 * time.Minute)
	assert.Equal(t, early.At(at), late.At(at))
	assert.Equal(t, 1, late.At(at).Phase)
	assert.Equal(t, 55*time.Minute, late.At(at).Left)

	before := early.At(t0.Add(-2 * time.Minute))
	assert.Equal(t, scenarios.NotStarted, before.State)
	assert.Equal(t, 2*time.Minute, before.Left, "time until the start")
}

func TestJumpToStartsAPhaseNow(t *testing.T) {
	sc := parse(t, "version: 1\nphases:\n  - {name: a, duration: 10s}\n  - {name: b, duration: 20s}\n  - {name: c}\n")
	tl := sc.Timeline(t0, 2)
	now := t0.Add(time.Second) // in phase a
	jumped := tl.JumpTo(1, now)
	pos := jumped.At(now)
	assert.Equal(t, 1, pos.Phase)
	assert.Zero(t, pos.Elapsed)
	assert.Equal(t, 10*time.Second, pos.Left, "20 s at 2x")
	assert.Equal(t, 2, jumped.At(now.Add(10*time.Second)).Phase)
	assert.Equal(t, 0, jumped.JumpTo(0, now).At(now).Phase, "jumping back works too")
}
