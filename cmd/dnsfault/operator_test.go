package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// ctl runs `dnsfault ctl ARGS --control ADDR`.
func (s *server) ctl(t *testing.T, args ...string) result {
	t.Helper()
	return runDnsfault(t, append(append([]string{"ctl"}, args...), "--control", s.control)...)
}

// TestAdHocFaultsFromCtl: ctl add serves the fault at once, in front of
// the phase's rules; remove, the `for` expiry and reset end it.
func TestAdHocFaultsFromCtl(t *testing.T) {
	t.Parallel()
	requireTool(t, "dig", "bind9-dnsutils")
	file := filepath.Join(t.TempDir(), "drill.yaml")
	require.NoError(t, os.WriteFile(file, []byte(drill), 0o644))
	s := serve(t, "-s", file)
	require.Equal(t, "NOERROR", s.digStatus(t, "a.drill.test"))

	r := s.ctl(t, "add", "burn", "--names", "a.drill.test", "--action", "nxdomain", "--types", "A")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "added burn")
	assert.Contains(t, r.stdout, "burn: nxdomain of a.drill.test A")
	assert.Equal(t, "NXDOMAIN", s.digStatus(t, "a.drill.test"), "served at once")

	r = s.ctl(t, "rules")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `burn\s+ad-hoc\s+1\s+until removed\s+burn: nxdomain`, r.stdout)

	r = s.ctl(t, "add", "burn", "--all-names", "--action", "refused")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `an ad-hoc rule of that name exists: "burn" (remove it first)`)
	r = s.ctl(t, "add", "typo", "--names", "a.drill.test", "--action", "servfial")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `--action: unknown action "servfial" (did you mean "servfail"?)`)

	r = s.ctl(t, "remove", "burn")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "NOERROR", s.digStatus(t, "a.drill.test"), "removed")
	r = s.ctl(t, "remove", "burn")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no ad-hoc rule of that name: "burn"`)

	r = s.ctl(t, "add", "brief", "--names", "a.drill.test", "--action", "refused", "--for", "1s")
	require.Equal(t, 0, r.code, r.stderr)
	require.Eventually(t, func() bool { return len(s.status(t).AdHoc) == 0 }, dnstest.Patience(30*time.Second), 50*time.Millisecond, "for: 1s ends it")
	assert.Equal(t, "NOERROR", s.digStatus(t, "a.drill.test"))
	s.logShows(t, `msg="ad-hoc rule ended" rule=brief why="its time ran out"`)

	r = s.ctl(t, "add", "every", "--action", "servfail")
	assert.Equal(t, 2, r.code, "every name is asked for by name")
	assert.Contains(t, r.stderr, "dnsfault ctl add: give --names, or --all-names to fault every name")
	assert.Empty(t, s.status(t).AdHoc, "nothing was added")
	r = s.ctl(t, "add", "every", "--all-names", "--action", "servfail")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "SERVFAIL", s.digStatus(t, "a.drill.test"))
	r = s.ctl(t, "reset")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "NOERROR", s.digStatus(t, "a.drill.test"), "reset: the scenario as loaded")
	assert.Contains(t, s.log(), `msg="ad-hoc rule added" rule=burn does="burn: nxdomain of a.drill.test A" for="until removed" by=127.0.0.1:`)
}

// TestTheLogTellsTheDrill: a phase change, the end of the timeline and
// max-duration are logged as they happen; resume after max-duration says
// why it cannot and exits 1; a heartbeat to a server without the switch
// says so.
func TestTheLogTellsTheDrill(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "drill.yaml")
	require.NoError(t, os.WriteFile(file, []byte(drill), 0o644))
	s := serve(t, "-s", file, "--speed", "120", "--max-duration", "4s")

	require.Eventually(t, func() bool { return strings.Contains(s.log(), `max-duration reached`) }, dnstest.Patience(60*time.Second), 20*time.Millisecond)
	log := s.log()
	for _, line := range []string{
		`msg="phase begins" phase=healthy index=1 of=3 lasts=500ms rules=0`,
		`msg="phase begins" phase=outage index=2 of=3 lasts=1s rules=1`,
		`msg="phase begins" phase=recovery index=3 of=3 lasts="until the end"`,
		`level=WARN msg="max-duration reached: every fault is off for good" max_duration=4s`,
	} {
		assert.Contains(t, log, line)
	}
	r := s.ctl(t, "resume")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "dnsfault ctl resume: max-duration reached: faults stay off for good")
	s.logShows(t, `msg="resume refused: max-duration reached, faults stay off for good" by=127.0.0.1:`)

	r = s.ctl(t, "heartbeat")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "this server has no dead-man switch (serve --heartbeat D)")
}

// TestCtlLoadTakesBundledNames: ctl load accepts what serve -s accepts.
func TestCtlLoadTakesBundledNames(t *testing.T) {
	t.Parallel()
	s := serve(t)
	r := s.ctl(t, "load", "demo")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "demo", s.status(t).Scenario)
	r = s.ctl(t, "load", "dmeo")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no bundled scenario is named "dmeo"`)
}

// TestResumeSaysWhenTheTimelineHoldsFaultsOff: after the timeline ends,
// resume lifts the abort but cannot turn faults on: it says why, exit 1.
func TestResumeSaysWhenTheTimelineHoldsFaultsOff(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "short.yaml")
	require.NoError(t, os.WriteFile(file, []byte("version: 1\nname: short\nupstream: none\nphases:\n  - {name: only, duration: 1m, rules: [{action: servfail}]}\n"), 0o644))
	s := serve(t, "-s", file, "--speed", "600")
	require.Eventually(t, func() bool { return s.status(t).Timeline == "ended" }, dnstest.Patience(60*time.Second), 20*time.Millisecond)
	r := s.ctl(t, "resume")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "dnsfault ctl resume: the abort is lifted, but faults stay off: timeline ended (dnsfault ctl phase NAME replays a phase")
	s.logShows(t, `msg="timeline ended: the scenario's faults are off" scenario=short`)
}

// TestCtlStatusShowsWhatEachRuleDid: ctl status gives each rule's seen,
// matched and injected, with the types injected, and /metrics the same
// (issue 28): the proof that a fault fired, or why it did not.
func TestCtlStatusShowsWhatEachRuleDid(t *testing.T) {
	t.Parallel()
	requireTool(t, "dig", "bind9-dnsutils")
	file := filepath.Join(t.TempDir(), "counted.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`version: 1
upstream: none
zones: [{origin: c.test., records: ["a.c.test. 60 IN A 192.0.2.1", "a.c.test. 60 IN AAAA 2001:db8::1", "ok.c.test. 60 IN A 192.0.2.2"]}]
rules:
  - {name: gone, match: {names: [a.c.test]}, action: nxdomain}
  - {name: idle, match: {names: [b.c.test]}, action: servfail}
`), 0o644))
	s := serve(t, "-s", file)
	for _, q := range [][]string{{"a.c.test"}, {"a.c.test", "AAAA"}, {"ok.c.test"}} {
		out, code := s.dig(t, q...)
		require.Equal(t, 0, code, out)
	}
	r := s.ctl(t, "status")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "SEEN")
	assert.Regexp(t, `gone\s+nxdomain\s+3\s+2\s+2 \(A 1, AAAA 1\)`, r.stdout)
	assert.Regexp(t, `idle\s+servfail\s+3\s+0\s+0`, r.stdout)

	resp, err := http.Get("http://" + s.control + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`dnsfault_rule_queries_total{phase="default",rule="gone",stage="seen"} 3`,
		`dnsfault_rule_queries_total{phase="default",rule="gone",stage="matched"} 2`,
		`dnsfault_rule_queries_total{phase="default",rule="gone",stage="injected"} 2`,
		`dnsfault_rule_queries_total{phase="default",rule="idle",stage="matched"} 0`,
	} {
		assert.Contains(t, string(metrics), line)
	}
}
