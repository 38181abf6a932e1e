package injector_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// outage is healthy for a minute, fails a.t.test for two, then recovers.
const outage = `
version: 1
name: outage
seed: 1
upstream: none
zones: [{origin: t.test., records: ["a.t.test. 60 IN A 192.0.2.1"]}]
phases:
  - name: healthy
    duration: 1m
  - name: outage
    duration: 2m
    rules: [{name: a-fails, match: {names: [a.t.test]}, action: servfail}]
  - name: recovery
    duration: 1m
`

var epoch = time.Date(2025, 10, 20, 6, 48, 0, 0, time.UTC)

func rcodeOf(t *testing.T, srv *injector.Server) string {
	t.Helper()
	return dns.RcodeToString[ask(t, srv, "udp", "a.t.test.", dns.TypeA).Rcode]
}

func TestPhasesFollowTheClock(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, outage, injector.Config{Now: clock.Now})
	steps := []struct {
		at    time.Duration
		rcode string
		phase string
	}{
		{0, "NOERROR", "healthy"},
		{time.Minute - time.Nanosecond, "NOERROR", "healthy"},
		{time.Minute, "SERVFAIL", "outage"},
		{3*time.Minute - time.Nanosecond, "SERVFAIL", "outage"},
		{3 * time.Minute, "NOERROR", "recovery"},
		{4 * time.Minute, "NOERROR", ""}, // ended: faults off
	}
	for _, step := range steps {
		clock.Set(epoch.Add(step.at))
		assert.Equal(t, step.rcode, rcodeOf(t, srv), "at %v", step.at)
		assert.Equal(t, step.phase, srv.Status().Phase, "at %v", step.at)
	}
	st := srv.Status()
	assert.Equal(t, "ended", st.Timeline)
	assert.Equal(t, "timeline ended", st.FaultsOff)
}

func TestSpeedRunsPhasesFaster(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, outage, injector.Config{Now: clock.Now, Speed: 60})
	clock.Set(epoch.Add(999 * time.Millisecond))
	assert.Equal(t, "NOERROR", rcodeOf(t, srv))
	clock.Set(epoch.Add(time.Second))
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv), "a minute at 60x is a second")
	st := srv.Status()
	require.NotNil(t, st.PhaseLeftSeconds)
	assert.Equal(t, 2.0, *st.PhaseLeftSeconds, "two minutes at 60x")
}

func TestStartAtInTheFutureWaits(t *testing.T) {
	clock := dnstest.NewClock(epoch.Add(-30 * time.Second))
	srv := start(t, "startAt: 2025-10-20T06:48:00Z\n"+outage, injector.Config{Now: clock.Now})
	st := srv.Status()
	assert.Equal(t, "not-started", st.Timeline)
	require.NotNil(t, st.StartsInSeconds)
	assert.Equal(t, 30.0, *st.StartsInSeconds)
	clock.Set(epoch.Add(90 * time.Second))
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv))
	assert.Equal(t, "outage", srv.Status().Phase)
}

func TestStartAtKeepsReplicasInStep(t *testing.T) {
	text := "startAt: 2025-10-20T06:48:00Z\n" + outage
	early := dnstest.NewClock(epoch)
	late := dnstest.NewClock(epoch.Add(150 * time.Second)) // started 2.5 minutes later
	a := start(t, text, injector.Config{Now: early.Now})
	b := start(t, text, injector.Config{Now: late.Now})
	early.Set(epoch.Add(150 * time.Second))
	assert.Equal(t, a.Status().Phase, b.Status().Phase)
	assert.Equal(t, a.Status().PhaseElapsedSeconds, b.Status().PhaseElapsedSeconds)
}

func TestJumpToAPhase(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, outage, injector.Config{Now: clock.Now})
	require.NoError(t, srv.JumpTo("outage", "test"))
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv))
	clock.Advance(2 * time.Minute)
	assert.Equal(t, "recovery", srv.Status().Phase, "the timeline goes on from the jump")
	assert.ErrorIs(t, srv.JumpTo("nope", "test"), injector.ErrNoSuchPhase)
	assert.EqualError(t, srv.JumpTo("nope", "test"), `no such phase: "nope"; the scenario has: healthy, outage, recovery`)
}

func TestAbortAndResume(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, outage, injector.Config{Now: clock.Now})
	require.NoError(t, srv.JumpTo("outage", "test"))
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv))
	srv.Abort("test")
	assert.Equal(t, "NOERROR", rcodeOf(t, srv))
	st := srv.Status()
	assert.False(t, st.FaultsActive)
	assert.True(t, st.Aborted)
	assert.Equal(t, "aborted", st.FaultsOff)
	assert.Equal(t, "outage", st.Phase, "the timeline runs on under an abort")
	require.NoError(t, srv.JumpTo("outage", "test"))
	assert.Equal(t, "NOERROR", rcodeOf(t, srv), "a jump does not undo an abort")
	srv.Resume("test")
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv))
}

func TestMaxDurationTurnsFaultsOffForGood(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, outage, injector.Config{Now: clock.Now, MaxDuration: 30 * time.Second})
	require.NoError(t, srv.JumpTo("outage", "test"))
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv))
	require.NotNil(t, srv.Status().MaxDurationLeftSeconds)
	assert.Equal(t, 30.0, *srv.Status().MaxDurationLeftSeconds)
	clock.Advance(30 * time.Second)
	assert.Equal(t, "NOERROR", rcodeOf(t, srv))
	st := srv.Status()
	assert.Equal(t, "max-duration reached", st.FaultsOff)
	assert.Equal(t, 0.0, *st.MaxDurationLeftSeconds)
	srv.Resume("test")
	assert.Equal(t, "NOERROR", rcodeOf(t, srv), "resume cannot outlive --max-duration")
}

func TestHeartbeatIsADeadMansSwitch(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, outage, injector.Config{Now: clock.Now, Heartbeat: 10 * time.Second})
	require.NoError(t, srv.JumpTo("outage", "test"))
	clock.Advance(9 * time.Second)
	srv.Heartbeat()
	clock.Advance(9 * time.Second)
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv), "heartbeats keep the faults on")
	require.NotNil(t, srv.Status().HeartbeatLeftSeconds)
	assert.Equal(t, 1.0, *srv.Status().HeartbeatLeftSeconds)

	clock.Advance(2 * time.Second)
	assert.Equal(t, "NOERROR", rcodeOf(t, srv))
	assert.Equal(t, "heartbeat missed", srv.Status().FaultsOff)
	srv.Heartbeat()
	assert.Equal(t, "NOERROR", rcodeOf(t, srv), "a late heartbeat does not turn faults back on by itself")
	srv.Resume("test")
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv))
}

func TestLoadSwapsTheScenarioAndRestartsTheTimeline(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, outage, injector.Config{Now: clock.Now})
	clock.Advance(90 * time.Second)
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv))
	srv.Abort("test")

	next, err := scenarios.Parse("next.yaml", []byte(outage), scenarios.Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Load(next, "next.yaml", false))
	st := srv.Status()
	assert.Equal(t, "healthy", st.Phase, "the timeline restarts")
	assert.True(t, st.Aborted, "a file reload keeps an abort")
	assert.True(t, st.LastReload.OK)

	require.NoError(t, srv.Load(next, "ctl load", true))
	assert.False(t, srv.Status().Aborted, "an operator's load resumes")
}
