package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// drill is a three-phase outage of a.drill.test; at --speed 60 each phase
// lasts a second or two of real time.
const drill = `version: 1
name: drill
upstream: none
zones: [{origin: drill.test., records: ["a.drill.test. 60 IN A 192.0.2.1"]}]
phases:
  - name: healthy
    duration: 1m
  - name: outage
    duration: 2m
    rules: [{name: a-fails, match: {names: [a.drill.test]}, action: servfail}]
  - name: recovery
`

// status asks the server for its status with `dnsfault ctl status --json`.
func (s *server) status(t *testing.T) control.Status {
	t.Helper()
	r := runDnsfault(t, "ctl", "status", "--json", "--control", s.control)
	require.Equal(t, 0, r.code, r.stderr)
	var st control.Status
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	return st
}

// digStatus returns the rcode dig sees for name.
func (s *server) digStatus(t *testing.T, name string) string {
	t.Helper()
	out, _ := s.dig(t, name)
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, "status: "); ok {
			return strings.TrimRight(strings.Fields(rest)[0], ",")
		}
	}
	return "no answer"
}

// digIn asks for name until a dig falls wholly inside phase (the status
// says phase before and after it), jumping back into the phase when the
// timeline has moved on, and returns the rcode that dig saw. A slow
// machine makes it try again; it never judges a dig by the clock.
func (s *server) digIn(t *testing.T, phase, name string) string {
	t.Helper()
	for range 20 { // bounded, whatever happens
		before := s.status(t)
		rcode := s.digStatus(t, name)
		after := s.status(t)
		if before.Phase == phase && after.Phase == phase && before.PhaseIndex == after.PhaseIndex &&
			after.PhaseElapsedSeconds >= before.PhaseElapsedSeconds {
			return rcode
		}
		r := runDnsfault(t, "ctl", "phase", phase, "--control", s.control)
		require.Equal(t, 0, r.code, r.stderr)
	}
	t.Fatalf("no dig fell inside phase %s in 20 tries", phase)
	return ""
}

func TestGameDayWithSpeedAndCtl(t *testing.T) {
	t.Parallel()
	requireTool(t, "dig", "bind9-dnsutils")
	file := filepath.Join(t.TempDir(), "drill.yaml")
	require.NoError(t, os.WriteFile(file, []byte(drill), 0o644))
	s := serve(t, "-s", file, "--speed", "60")

	assert.Equal(t, "NOERROR", s.digIn(t, "healthy", "a.drill.test"), "healthy")
	// At --speed 60 the timeline reaches recovery in 3 s; at speed 1 it
	// would take 3 minutes.
	require.Eventually(t, func() bool { return s.status(t).Phase == "recovery" }, dnstest.Patience(60*time.Second), 50*time.Millisecond, "--speed 60 runs the phases")
	assert.Equal(t, "SERVFAIL", s.digIn(t, "outage", "a.drill.test"), "outage")

	r := runDnsfault(t, "ctl", "abort", "--control", s.control)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "aborted: every fault is off")
	assert.Regexp(t, `faults\s+OFF: aborted`, r.stdout)
	assert.Equal(t, "NOERROR", s.digIn(t, "outage", "a.drill.test"), "the next query after the abort is answered normally")

	r = runDnsfault(t, "ctl", "resume", "--control", s.control)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `faults\s+ON in phase (outage|recovery)`, r.stdout)
	assert.Equal(t, "SERVFAIL", s.digIn(t, "outage", "a.drill.test"), "resumed")

	require.Eventually(t, func() bool { return s.status(t).Phase == "recovery" }, dnstest.Patience(60*time.Second), 50*time.Millisecond)
	assert.Equal(t, "NOERROR", s.digIn(t, "recovery", "a.drill.test"))
	s.logShows(t, "abort: every fault off")
}

func TestHotReload(t *testing.T) {
	t.Parallel()
	requireTool(t, "dig", "bind9-dnsutils")
	dir := t.TempDir()
	file := filepath.Join(dir, "live.yaml")
	write := func(text string) {
		// Write beside and rename over, as editors do.
		tmp := filepath.Join(dir, ".live.yaml.tmp")
		require.NoError(t, os.WriteFile(tmp, []byte(text), 0o644))
		require.NoError(t, os.Rename(tmp, file))
	}
	write("version: 1\nname: v1\nupstream: none\nrules: [{match: {names: [x.test]}, action: refused}]\n")
	s := serve(t, "-s", file)
	assert.Equal(t, "REFUSED", s.digStatus(t, "x.test"))

	write("version: 1\nname: v2\nupstream: none\nrules: [{match: {names: [x.test]}, action: nxdomian}]\n")
	require.Eventually(t, func() bool {
		r := s.status(t).LastReload
		return r != nil && !r.OK
	}, dnstest.Patience(10*time.Second), 20*time.Millisecond, "the bad edit is noticed")
	st := s.status(t)
	assert.Equal(t, "v1", st.Scenario, "the old scenario keeps serving")
	assert.Equal(t, []string{file + `:4:44: unknown action "nxdomian" (did you mean "nxdomain"?)`}, st.LastReload.Errors)
	assert.Equal(t, "REFUSED", s.digStatus(t, "x.test"))
	s.logShows(t, "scenario not loaded; the running one keeps serving")

	write("version: 1\nname: v3\nupstream: none\nrules: [{match: {names: [x.test]}, action: nxdomain}]\n")
	require.Eventually(t, func() bool { return s.status(t).Scenario == "v3" }, dnstest.Patience(10*time.Second), 20*time.Millisecond)
	assert.Equal(t, "NXDOMAIN", s.digStatus(t, "x.test"))
	s.logShows(t, "scenario loaded; the timeline restarts")
}

func TestCtlErrorsAreClear(t *testing.T) {
	t.Parallel()
	r := runDnsfault(t, "ctl", "status", "--control", "127.0.0.1:1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "dnsfault ctl status: cannot reach the control API at http://127.0.0.1:1")

	s := serve(t, "--upstream", "none", "--token", "s3cret")
	r = runDnsfault(t, "ctl", "abort", "--control", s.control, "--token", "guess")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "dnsfault ctl abort: the control API refused the token (401)")
	r = runDnsfault(t, "ctl", "status", "--control", s.control, "--token", "s3cret")
	assert.Equal(t, 0, r.code, r.stderr)

	file := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(file, []byte("version: 1\nrules: [{action: nxdomian}]\n"), 0o644))
	r = runDnsfault(t, "ctl", "load", file, "--control", s.control, "--token", "s3cret")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, file+`:2:18: unknown action "nxdomian" (did you mean "nxdomain"?)`, "the errors name the file ctl load read")
}

func TestServeRefusesAnExposedControlAPIWithoutAToken(t *testing.T) {
	t.Parallel()
	r := runDnsfault(t, "serve", "--listen", "127.0.0.1:0", "--control", "0.0.0.0:8053")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "control address 0.0.0.0:8053 is not loopback: give --token")
}
