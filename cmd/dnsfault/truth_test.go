package main_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/report"
)

// outageScenario is a short outage of one name: healthy, the name's
// records gone (NODATA), then fixed. No expect: is written.
const outageScenario = `version: 1
name: short-outage
upstream: none
zones: [{origin: svc.test., records: ["api.svc.test. 60 IN A 192.0.2.1"]}]
phases:
  - {name: healthy, duration: 1s}
  - {name: outage, duration: 1s, rules: [{name: api-gone, match: {names: [api.svc.test]}, action: empty}]}
  - {name: fixed, fixed: true}
`

// runService runs the service client under the short outage with the
// client's flags, and returns the result and the report.
func runService(t *testing.T, clientFlags ...string) (result, report.Report) {
	t.Helper()
	reportFile := filepath.Join(t.TempDir(), "report.json")
	args := append([]string{"run", "-s", scenarioFile(t, outageScenario), "--start-when", "first-query", "--report", reportFile, "--", serviceClient(t)}, clientFlags...)
	r := runDnsfault(t, append(args, "api.svc.test")...)
	require.FileExists(t, reportFile, r.stderr)
	return r, readReport(t, reportFile)
}

// expectation finds an expectation of the report by name.
func expectation(t *testing.T, rep report.Report, name string) report.Expectation {
	t.Helper()
	for _, e := range rep.Expectations {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no expectation %s in %+v", name, rep.Expectations)
	return report.Expectation{}
}

// TestAServiceThatNeverRecoversFails: a service that keeps failing after
// the record is back fails the run (120), though the scenario writes no
// expectation, and the text says what was judged.
func TestAServiceThatNeverRecoversFails(t *testing.T) {
	t.Parallel()
	r, rep := runService(t, "-sticky")
	assert.Equal(t, report.ExitExpectation, r.code, r.stderr)
	assert.True(t, rep.ExpectationsDefaulted)
	assert.Equal(t, report.NeverRecovered, rep.Recovery.State)
	assert.Contains(t, r.stderr, "The scenario states no expectation: dnsfault judged its defaults")
	assert.Contains(t, r.stderr, "expect max_recovery: 5m0s (scenario time): BROKEN (never recovered)")
	assert.Contains(t, r.stderr, "It never recovered")
	assert.Contains(t, r.stderr, "expect max_peak_amplification: 10: met")
}

// TestARetryStormFails: a service that asks 200 more times after each
// failed lookup sends many times its healthy rate in the outage: the run
// fails on the default bound, and says so. (60 more made 9.2x under four
// busy loops: its failing calls slowed down as much as they multiplied.)
func TestARetryStormFails(t *testing.T) {
	t.Parallel()
	r, rep := runService(t, "-storm", "200")
	assert.Equal(t, report.ExitExpectation, r.code, r.stderr)
	e := expectation(t, rep, "max_peak_amplification")
	assert.False(t, e.OK)
	assert.Contains(t, e.Source, "default")
	assert.Contains(t, r.stderr, "expect max_peak_amplification: 10: BROKEN")
	assert.Contains(t, r.stderr, "api.svc.test. in phase outage")
}

// TestAWellBehavedServicePasses: failing in the outage and recovering at
// once passes on the defaults, and the text names what was judged.
func TestAWellBehavedServicePasses(t *testing.T) {
	t.Parallel()
	r, rep := runService(t)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, report.Recovered, rep.Recovery.State)
	assert.Contains(t, r.stderr, "dnsfault judged its defaults")
	assert.Contains(t, r.stderr, "expect max_recovery: 5m0s (scenario time): met")
	assert.Contains(t, r.stderr, "expect max_peak_amplification: 10: met")
	assert.Contains(t, r.stderr, "The service: the cause was fixed when phase fixed, marked fixed, began")
	// Go's resolver asks A and AAAA for a name that has only A: NODATA
	// for AAAA on every call is no failure, so no re-ask in the healthy
	// phase.
	require.NotEmpty(t, rep.Clients)
	for _, p := range rep.Clients[0].Phases {
		if p.Phase == "healthy" {
			assert.Zero(t, p.Retries, "a dual-stack client asking AAAA of an IPv4-only name")
			assert.Positive(t, p.NewLookups)
		}
	}
}

// TestRecoveryIsMeasuredFromTheFix: a service that goes on failing for
// 2 s after the record is back (a cache of failures) is reported back
// within 20% or 1 s of what its own log says.
func TestRecoveryIsMeasuredFromTheFix(t *testing.T) {
	t.Parallel()
	own := filepath.Join(t.TempDir(), "own.jsonl")
	r, rep := runService(t, "-fail-for", "2s", "-log", own)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, report.Recovered, rep.Recovery.State, r.stderr)
	fix := rep.Started.Add(time.Duration(rep.Recovery.FixedAtSeconds * float64(time.Second)))
	f, err := os.Open(own)
	require.NoError(t, err)
	defer f.Close()
	var firstOK time.Time
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var line struct {
			OK   bool      `json:"ok"`
			Time time.Time `json:"time"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		if line.OK && line.Time.After(fix) {
			firstOK = line.Time
			break
		}
	}
	require.False(t, firstOK.IsZero(), "the client logged a success after the fix")
	clientSays := firstOK.Sub(fix).Seconds()
	assert.InDelta(t, 2, clientSays, 1, "the client recovered about 2 s after the fix, by its own log")
	reported := *rep.Recovery.FirstSuccessSeconds
	assert.InDelta(t, clientSays, reported, max(0.2*clientSays, 1), "report %.2fs, client %.2fs", reported, clientSays)
	assert.GreaterOrEqual(t, *rep.Recovery.HealthySeconds, reported)
}

// TestExpectOnTheCommandLine: --expect judges a bundled scenario with no
// file written; a bad key is refused with one line.
func TestExpectOnTheCommandLine(t *testing.T) {
	t.Parallel()
	up := dnstest.Start(t, dnstest.AnswerA("192.0.2.7"))
	r := runDnsfault(t, "run", "-s", "aws-dynamodb-us-east-1-2025", "--speed", "1800", "--upstream", up.Addr, "--start-when", "first-query",
		"--expect", "min_availability=0.5", "--", serviceClient(t), "dynamodb.us-east-1.amazonaws.com")
	assert.Equal(t, report.ExitExpectation, r.code, r.stderr)
	assert.Contains(t, r.stderr, "expect min_availability: 50%: BROKEN")
	assert.Contains(t, r.stderr, "[--expect on the command line]")
	assert.NotContains(t, r.stderr, "judged its defaults")

	r = runDnsfault(t, "run", "-s", "demo", "--expect", "max_recovry=1m", "--", "true")
	assert.Equal(t, report.ExitCannotRun, r.code)
	assert.Contains(t, r.stderr, `--expect "max_recovry=1m": want KEY=VALUE (did you mean "max_recovery"?)`)
}

// TestAProbeThatNeverSucceedsEndsTheRun: with --start-when probe and a
// probe that never succeeds, the timeline never began: run says so in one
// line and exits non-zero, with no report of a timeline that never ran.
func TestAProbeThatNeverSucceedsEndsTheRun(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	ln.Close() // nothing listens there
	reportFile := filepath.Join(t.TempDir(), "report.json")
	r := runDnsfault(t, "run", "-s", scenarioFile(t, outageScenario), "--start-when", "probe", "--probe", "tcp://"+closed,
		"--probe-interval", "20ms", "--report", reportFile, "--", "sleep", "0.3")
	assert.Equal(t, report.ExitCannotRun, r.code, r.stderr)
	assert.Contains(t, r.stderr, "dnsfault run: --start-when probe: no probe ever succeeded (the last try: ")
	assert.Contains(t, r.stderr, "connection refused")
	assert.NotContains(t, r.stderr, "verdict:")
	assert.NoFileExists(t, reportFile)
}

// TestAProbeLeavesTheClientsFiguresAlone: a probe whose URL names the
// very endpoint the service resolves asks from an address of its own, so
// the amplification of a service that retries in the outage is the same
// with and without it (within 15%; counted together, the probe's steady
// lookups raise the baseline and hide the retries), and the probe has its
// own row.
func TestAProbeLeavesTheClientsFiguresAlone(t *testing.T) {
	// Not in parallel with other tests, and the two runs at once: a
	// client's rates depend on how busy the machine is, so both runs see
	// the same.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	scenario := strings.Replace(outageScenario, "192.0.2.1", "127.0.0.1", 1) // the probe connects there
	client := serviceClient(t)
	run := func(probe bool) (result, string) { // no assertion: it runs off the test's goroutine too
		reportFile := filepath.Join(t.TempDir(), "report.json")
		args := []string{"run", "-s", scenarioFile(t, scenario), "--start-when", "first-query", "--report", reportFile, "--expect", "max_peak_amplification=1000"}
		if probe {
			args = append(args, "--probe", "http://api.svc.test:"+port+"/", "--probe-interval", "5ms")
		}
		return runDnsfault(t, append(args, "--", client, "-storm", "5", "api.svc.test")...), reportFile
	}
	outageAmplification := func(r result, reportFile string) (float64, report.Report) {
		require.Equal(t, 0, r.code, r.stderr)
		rep := readReport(t, reportFile)
		require.Len(t, rep.Clients, 1, r.stderr)
		for _, p := range rep.Clients[0].Phases {
			if p.Phase == "outage" {
				require.NotNil(t, p.Amplification)
				return *p.Amplification, rep
			}
		}
		t.Fatalf("no outage figures:\n%s", r.stderr)
		return 0, rep
	}
	var plain result
	var plainReport string
	done := make(chan struct{})
	go func() {
		defer close(done)
		plain, plainReport = run(false)
	}()
	with, rep := outageAmplification(run(true))
	<-done
	without, _ := outageAmplification(plain, plainReport)
	assert.InEpsilon(t, without, with, 0.15, "amplification %.2f without a probe, %.2f with", without, with)
	require.Len(t, rep.Probes, 1)
	assert.Equal(t, "http://api.svc.test:"+port+"/", rep.Probes[0].Probe)
	assert.Positive(t, rep.ProbeQueries, "the probe's own lookups, counted apart")
	assert.NotEmpty(t, rep.Service, "the service's calls, apart from the probe's")
}

// TestACallThatNeverEndsIsCounted: a call whose start line came and whose
// end line never did is counted, as failed where it began.
func TestACallThatNeverEndsIsCounted(t *testing.T) {
	t.Parallel()
	reportFile := filepath.Join(t.TempDir(), "report.json")
	script := `now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
echo "{\"id\":\"a\",\"start\":\"$(now)\"}" >> "$DNSFAULT_EVENTS"
echo "{\"id\":\"b\",\"start\":\"$(now)\"}" >> "$DNSFAULT_EVENTS"
echo "{\"id\":\"a\",\"ok\":true,\"end\":\"$(now)\"}" >> "$DNSFAULT_EVENTS"`
	r := runDnsfault(t, "run", "-s", scenarioFile(t, "version: 1\nupstream: none\n"), "--report", reportFile, "--", "sh", "-c", script)
	require.Equal(t, 0, r.code, r.stderr)
	rep := readReport(t, reportFile)
	require.Len(t, rep.Service, 1, r.stderr)
	sp := rep.Service[0]
	assert.Equal(t, 2, sp.Calls)
	assert.Equal(t, 1, sp.OK)
	assert.Equal(t, 1, sp.NeverFinished)
	assert.Equal(t, map[string]int{"never-finished": 1}, sp.Errors)
}
