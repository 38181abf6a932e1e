package injector_test

import (
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// TestTheLogIsTheDrillsTimeline: each change that time alone makes is
// logged once, when it happens; the operators' actions say who.
func TestTheLogIsTheDrillsTimeline(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	var logs syncBuffer
	srv := start(t, outage, injector.Config{Now: clock.Now, MaxDuration: 10 * time.Minute, Heartbeat: 30 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	step := func(to time.Duration) {
		clock.Set(epoch.Add(to))
		srv.Status() // looks, as the watcher does at each boundary
	}
	step(30 * time.Second)
	step(time.Minute)
	step(90 * time.Second)
	step(3 * time.Minute)
	require.NoError(t, srv.JumpTo("outage", "192.0.2.7:4242"))
	step(5 * time.Minute)
	srv.Abort("192.0.2.7:4242")
	require.NoError(t, srv.Resume("192.0.2.7:4242"))
	step(7 * time.Minute)
	step(10 * time.Minute)
	assert.ErrorIs(t, srv.Resume("192.0.2.7:4242"), injector.ErrMaxDurationReached)

	want := []string{
		`msg="phase begins" phase=healthy index=1 of=3 lasts=1m0s`,
		`msg="phase begins" phase=outage index=2 of=3 lasts=2m0s rules=1`,
		`msg="phase begins" phase=recovery index=3 of=3`,
		`msg=jump phase=outage by=192.0.2.7:4242`,
		`msg="phase begins" phase=outage index=2 of=3 lasts=2m0s`,
		`msg="phase begins" phase=recovery index=3 of=3`,
		`msg="abort: every fault off" by=192.0.2.7:4242`,
		`msg="resume: faults on" by=192.0.2.7:4242`,
		`msg="timeline ended: the scenario's faults are off"`,
		`msg="max-duration reached: every fault is off for good" max_duration=10m0s`,
		`msg="resume refused: max-duration reached, faults stay off for good" by=192.0.2.7:4242`,
	}
	got := logs.String()
	at := 0
	for _, w := range want {
		i := regexp.MustCompile(regexp.QuoteMeta(w)).FindStringIndex(got[at:])
		if !assert.NotNil(t, i, "%s, in order, in:\n%s", w, got) {
			return
		}
		at += i[1]
	}
	assert.Equal(t, 3, countOf(got, `phase=healthy`)+countOf(got, `phase=outage index`), "each phase change once: healthy, outage, outage again after the jump")
}

func countOf(s, sub string) int {
	return len(regexp.MustCompile(regexp.QuoteMeta(sub)).FindAllStringIndex(s, -1))
}

// TestHeartbeatMissIsLoggedWhenItHappens: the miss is announced at the
// deadline, not when the late heartbeat comes.
func TestHeartbeatMissIsLoggedWhenItHappens(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	var logs syncBuffer
	srv := start(t, outage, injector.Config{Now: clock.Now, Heartbeat: time.Minute, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	clock.Advance(2 * time.Minute)
	srv.Status()
	assert.Contains(t, logs.String(), `msg="heartbeat missed: every fault is off until resume or load" heartbeat=1m0s`)

	noSwitch := start(t, outage, injector.Config{})
	assert.ErrorIs(t, noSwitch.Heartbeat(), injector.ErrNoHeartbeat)
}
