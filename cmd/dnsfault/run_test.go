package main_test

import (
	"encoding/json"
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/report"
)

// scenarioFile writes a scenario into the test's folder.
func scenarioFile(t *testing.T, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "scenario.yaml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	return file
}

const oneRule = "version: 1\nupstream: none\nzones: [{origin: t.test., records: [\"ok.t.test. 60 IN A 192.0.2.1\"]}]\nrules: [{name: x-fails, match: {names: [x.t.test]}, action: servfail}]\n"

func TestRunExitStatuses(t *testing.T) {
	t.Parallel()
	dig := requireTool(t, "dig", "bind9-dnsutils")
	// One query over TCP, which needs no retry, so the rule is hit once.
	ask := dig + ` @$DNSFAULT_HOST -p $DNSFAULT_PORT +tcp +tries=3 +time=5 x.t.test >/dev/null`
	notExecutable := filepath.Join(t.TempDir(), "tests.txt") // there, but no program
	require.NoError(t, os.WriteFile(notExecutable, []byte("not a program\n"), 0o644))
	cases := []struct {
		desc   string
		args   []string
		code   int
		stderr []string
	}{
		{"the fault fired and the command passed", []string{"-s", scenarioFile(t, oneRule), "--", "sh", "-c", ask},
			0, []string{"verdict: PASS (exit status 0)", "x-fails  servfail  1        SERVFAIL 1"}},
		{"the command failed", []string{"-s", scenarioFile(t, oneRule), "--", "sh", "-c", ask + "; exit 7"},
			7, []string{"FAIL: the command exited with status 7 (exit status 7)"}},
		{"a rule never fired", []string{"-s", scenarioFile(t, oneRule), "--", "true"},
			121, []string{"Rules never exercised: x-fails (phase default: no question came while it was in force).", "the client answered from a cache",
				"FAIL: the command passed, but rules never fired: x-fails (phase default: no question came while it was in force) (exit status 121)"}},
		{"a rule never fired, and that is allowed", []string{"-s", scenarioFile(t, oneRule), "--allow-unexercised", "--", "true"},
			0, []string{"Rules never exercised: x-fails (phase default: no question came while it was in force).", "verdict: PASS (exit status 0)"}},
		{"an invalid scenario", []string{"-s", scenarioFile(t, "version: 1\nrules: [{action: nxdomian}]\n"), "--", "true"},
			125, []string{`scenario.yaml:2:18: unknown action "nxdomian" (did you mean "nxdomain"?)`}},
		{"no command", []string{"-s", "demo"},
			125, []string{"give the command to run after --"}},
		{"a command that is not there", []string{"-s", "demo", "--", "/nonexistent/tests"},
			127, []string{"starting /nonexistent/tests"}},
		{"a command not on the PATH", []string{"-s", "demo", "--", "no-such-command-anywhere"},
			127, []string{"starting no-such-command-anywhere"}},
		{"a command that cannot be executed", []string{"-s", "demo", "--", notExecutable},
			126, []string{"starting " + notExecutable}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			r := runDnsfault(t, append([]string{"run"}, tc.args...)...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			for _, want := range tc.stderr {
				assert.Contains(t, r.stderr, want)
			}
		})
	}
}

func TestRunExportsWhereDnsfaultIs(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "env")
	r := runDnsfault(t, "run", "-s", scenarioFile(t, "version: 1\nupstream: none\n"), "--",
		"sh", "-c", `echo "$DNSFAULT_ADDR $DNSFAULT_HOST $DNSFAULT_PORT $DNSFAULT_CONTROL" > `+out)
	require.Equal(t, 0, r.code, r.stderr)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	f := strings.Fields(string(data))
	require.Len(t, f, 4)
	assert.Equal(t, f[1]+":"+f[2], f[0])
	assert.Equal(t, "127.0.0.1", f[1])
	assert.NotEqual(t, "0", f[2])
	assert.True(t, strings.HasPrefix(f[3], "127.0.0.1:"))
	assert.Contains(t, r.stderr, "dnsfault run: scenario")
}

func TestRunPassesSignalsOnAndLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	// The trap is set before the pid file appears, which is what the test
	// waits for. The background sleep ignores TERM (kept across exec), so
	// only run's kill of the whole group can end it.
	script := `trap 'exit 42' TERM; (trap '' TERM; exec sleep 300) & echo $! > ` + pids + `.tmp; mv ` + pids + `.tmp ` + pids + `; while :; do sleep 0.05; done`
	cmd := exec.Command(binary, "run", "-s", scenarioFile(t, "version: 1\nupstream: none\n"), "--", "sh", "-c", script)
	require.NoError(t, cmd.Start())
	var orphan int
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(pids)
		if err != nil {
			return false
		}
		orphan, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	}, dnstest.Patience(10*time.Second), 10*time.Millisecond, "the command started")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 42, exit.ExitCode(), "the command's trap ran: SIGTERM was passed on")
	assert.Eventually(t, func() bool { return gone(orphan) }, dnstest.Patience(5*time.Second), 10*time.Millisecond, "the background sleep, which ignores SIGTERM, was killed with the group")
}

// gone tells whether a process no longer runs (a zombie waiting to be
// reaped counts as gone).
func gone(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+1:])
	return len(fields) > 0 && fields[0] == "Z"
}

var (
	checkoutOnce sync.Once
	checkoutPath string
	checkoutErr  error
)

// checkout builds the examples/ci service once.
func checkout(t *testing.T) string {
	t.Helper()
	checkoutOnce.Do(func() {
		checkoutPath = filepath.Join(filepath.Dir(binary), "checkout")
		out, err := exec.Command("go", "build", "-o", checkoutPath, "../../examples/ci/checkout").CombinedOutput()
		if err != nil {
			checkoutErr = err
			checkoutPath = string(out)
		}
	})
	require.NoError(t, checkoutErr, checkoutPath)
	return checkoutPath
}

// runExample runs examples/ci as its README says, with a retry policy.
func runExample(t *testing.T, retry string, extra ...string) result {
	t.Helper()
	args := append([]string{"run", "-s", "../../examples/ci/scenario.yaml", "--start-when", "first-query"}, extra...)
	args = append(args, "--", "../../examples/ci/test.sh")
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "CHECKOUT="+checkout(t), "RETRY="+retry)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errorsAs(err, &exit) {
		t.Fatalf("dnsfault run: %v", err)
	}
	stderr := ""
	if exit != nil {
		stderr = string(exit.Stderr)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: string(out), stderr: stderr}
}

func TestRetryStormsBreakMaxAmplification(t *testing.T) {
	t.Parallel()
	var backoff, tight result
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); backoff = runExample(t, "backoff") }()
	go func() { defer wg.Done(); tight = runExample(t, "tight") }()
	wg.Wait()

	assert.Equal(t, 0, backoff.code, "a client with exponential backoff passes:\n%s%s", backoff.stdout, backoff.stderr)
	assert.Contains(t, backoff.stdout, "80 of 80 requests served")

	assert.Equal(t, 120, tight.code, "a client retrying in a tight loop breaks max_amplification 3:\n%s%s", tight.stdout, tight.stderr)
	assert.Contains(t, tight.stdout, "80 of 80 requests served", "it serves its requests: only its DNS behaviour fails")
	assert.Regexp(t, `payments\.shop\.test\. in phase outage: \d+\.\dx the baseline \(\d+\.\d q/s against \d+\.\d q/s in healthy\)`, tight.stderr)
	t.Logf("tight-loop client:\n%s", tight.stderr)
}

func TestReportsFollowTheirSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "report.json"), filepath.Join(dir, "junit.xml")
	cmd := exec.Command(binary, "run", "-s", "../../examples/ci/scenario.yaml", "--report", jsonFile, "--junit", junitFile, "--", "../../examples/ci/test.sh")
	cmd.Env = append(os.Environ(), "CHECKOUT="+checkout(t), "RETRY=tight")
	cmd.Run()
	require.Equal(t, 120, cmd.ProcessState.ExitCode())

	compiler := jsonschema.NewCompiler()
	schema, err := compiler.Compile("../../docs/report.schema.json")
	require.NoError(t, err)
	data, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	require.NoError(t, err)
	require.NoError(t, schema.Validate(doc))

	var report struct {
		Verdict  string `json:"verdict"`
		ExitCode int    `json:"exit_code"`
		Clients  []struct {
			Name   string `json:"name"`
			Phases []struct {
				Phase         string   `json:"phase"`
				Amplification *float64 `json:"amplification"`
			} `json:"phases"`
		} `json:"client_behavior"`
	}
	require.NoError(t, json.Unmarshal(data, &report))
	assert.Equal(t, "expectation-failed", report.Verdict)
	assert.Equal(t, 120, report.ExitCode)
	require.Len(t, report.Clients, 1)
	assert.Equal(t, "payments.shop.test.", report.Clients[0].Name)

	var junit struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Class   string    `xml:"classname,attr"`
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	data, err = os.ReadFile(junitFile)
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(data, &junit))
	require.Len(t, junit.Suites, 1)
	suite := junit.Suites[0]
	assert.Equal(t, 3, suite.Tests)
	assert.Equal(t, 1, suite.Failures)
	var names []string
	for _, c := range suite.Cases {
		names = append(names, c.Class+": "+c.Name)
	}
	assert.Equal(t, []string{"dnsfault.command: ../../examples/ci/test.sh", "dnsfault.rules: outage/payments-servfail exercised", "dnsfault.expect: max_amplification 3"}, names)
	assert.Nil(t, suite.Cases[0].Failure)
	assert.Nil(t, suite.Cases[1].Failure)
	assert.NotNil(t, suite.Cases[2].Failure)
}

func TestResolvConfReachesAnyResolver(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		r := runDnsfault(t, "run", "--resolv-conf", "-s", "demo", "--", "true")
		assert.Equal(t, 125, r.code)
		assert.Contains(t, r.stderr, "--resolv-conf: needs root")
		t.Skip("--resolv-conf needs root; checked that it says so")
	}
	getent, err := exec.LookPath("getent")
	require.NoError(t, err, "getent comes with glibc")
	golookup := filepath.Join(t.TempDir(), "golookup")
	out, err := exec.Command("go", "build", "-o", golookup, "./testdata/golookup").CombinedOutput()
	require.NoError(t, err, string(out))

	scenario := scenarioFile(t, `version: 1
upstream: none
zones: [{origin: shop.test., records: ["api.shop.test. 60 IN A 192.0.2.80", "gone.shop.test. 60 IN A 192.0.2.81"]}]
rules: [{name: gone, match: {names: [gone.shop.test]}, action: nxdomain}]
`)
	cases := []struct {
		client string
		args   []string
		want   []string
	}{
		{"glibc (getent)", []string{getent, "hosts", "api.shop.test"}, []string{"192.0.2.80      api.shop.test"}},
		{"Go's own resolver", []string{golookup, "api.shop.test", "gone.shop.test"}, []string{"api.shop.test [192.0.2.80]", "gone.shop.test error: lookup gone.shop.test", "no such host"}},
	}
	for _, tc := range cases {
		t.Run(tc.client, func(t *testing.T) {
			t.Parallel() // two runs at once, each on an address of its own
			cmd := exec.Command(binary, append([]string{"run", "--resolv-conf", "-s", scenario, "--", "sh", "-c", `"$@"; exit 0`, "sh"}, tc.args...)...)
			cmd.Env = append(os.Environ(), "GODEBUG=netdns=go")
			out, _ := cmd.Output() // the exit status says whether "gone" fired, which varies by client
			for _, want := range tc.want {
				assert.Contains(t, string(out), want)
			}
		})
	}
	data, err := os.ReadFile("/etc/resolv.conf")
	require.NoError(t, err)
	assert.NotContains(t, string(data), "127.53.", "the host's resolv.conf is never touched")
}

// TestStartWhenFirstQuery: with --start-when first-query, a client that
// starts 3 s late, past the whole healthy phase by the clock, still finds
// the timeline at its start: healthy first, then the outage.
func TestStartWhenFirstQuery(t *testing.T) {
	t.Parallel()
	dig := requireTool(t, "dig", "bind9-dnsutils")
	scenario := scenarioFile(t, `version: 1
upstream: none
zones: [{origin: late.test., records: ["a.late.test. 60 IN A 192.0.2.1"]}]
phases:
  - {name: healthy, duration: 2s}
  - {name: outage, rules: [{name: a-fails, match: {names: [a.late.test]}, action: servfail}]}
`)
	ask := dig + ` @$DNSFAULT_HOST -p $DNSFAULT_PORT +tcp +tries=3 +time=5 a.late.test | grep -o 'status: [A-Z]*' | head -1`
	// The first answer, then asks until the outage answers (bounded).
	script := `sleep 3; ` + ask + `; for i in $(seq 1 100); do s=$(` + ask + `); [ "$s" = "status: SERVFAIL" ] && echo "$s" && exit 0; sleep 0.1; done; exit 1`
	reportFile := filepath.Join(t.TempDir(), "report.json")
	r := runDnsfault(t, "run", "-s", scenario, "--start-when", "first-query", "--report", reportFile, "--", "sh", "-c", script)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Equal(t, "status: NOERROR\nstatus: SERVFAIL\n", r.stdout, "healthy at the first query, 3 s after the start; the outage after")
	rep := readReport(t, reportFile)
	assert.Equal(t, "first-query", rep.StartWhen)
	require.NotNil(t, rep.TimelineStartSeconds)
	assert.GreaterOrEqual(t, *rep.TimelineStartSeconds, 3.0, "the timeline began with the first query, after the client's 3 s")
}

// serviceClient builds testdata/service once per test.
func serviceClient(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "service")
	out, err := exec.Command("go", "build", "-o", path, "./testdata/service").CombinedOutput()
	require.NoError(t, err, string(out))
	return path
}

// TestServiceEventsGiveAvailabilityAndRecovery: the bundled DynamoDB
// outage at high speed, against a service whose calls resolve the
// endpoint through dnsfault and write DNSFAULT_EVENTS. The report shows
// the service's availability near 100% before and after the outage and
// near 0% in it, a time to recover, and amplification with no expect
// block written.
func TestServiceEventsGiveAvailabilityAndRecovery(t *testing.T) {
	t.Parallel()
	up := dnstest.Start(t, dnstest.AnswerA("192.0.2.7"))
	reportFile := filepath.Join(t.TempDir(), "report.json")
	r := runDnsfault(t, "run", "-s", "aws-dynamodb-us-east-1-2025", "--speed", "1800", "--start-when", "first-query",
		"--upstream", up.Addr, "--report", reportFile, "--", serviceClient(t), "dynamodb.us-east-1.amazonaws.com")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	t.Log(r.stderr)
	rep := readReport(t, reportFile)
	for _, b := range rep.Clients {
		for _, p := range b.Phases {
			assert.Zero(t, p.EarlyReasks, "Go's resolver has no cache: no TTL figure flags it (phase %s)", p.Phase)
		}
	}
	assertTheServiceSawTheOutage(t, rep.Service, rep.Recovery, 90)
	require.Len(t, rep.Clients, 1)
	amplified := false
	for _, p := range rep.Clients[0].Phases {
		amplified = amplified || p.Phase == "records-gone" && p.Amplification != nil
	}
	assert.True(t, amplified, "amplification for the outage, with no expect written")
}

// TestServiceExpectationsFailTheRun: min_availability and max_recovery
// fail the run (120) when broken and pass when not.
func TestServiceExpectationsFailTheRun(t *testing.T) {
	t.Parallel()
	client := serviceClient(t)
	const base = `version: 1
upstream: none
zones: [{origin: svc.test., records: ["api.svc.test. 60 IN A 192.0.2.1"]}]
phases:
  - {name: healthy, duration: 500ms}
  - {name: outage, duration: 500ms, rules: [{name: api-fails, match: {names: [api.svc.test]}, action: servfail}]}
  - {name: recovered}
`
	for _, tc := range []struct {
		expect string
		code   int
		want   string
	}{
		{"expect: {min_availability: {healthy: 90, recovered: 90}, max_recovery: 10s}\n", 0, "expect max_recovery: 10s (scenario time): met"},
		{"expect: {min_availability: 90}\n", 120, "expect min_availability: 90%: BROKEN\n  phase outage: "},
		{"expect: {max_recovery: 1ns}\n", 120, "back at its healthy level"},
	} {
		t.Run(tc.expect, func(t *testing.T) {
			r := runDnsfault(t, "run", "-s", scenarioFile(t, base+tc.expect), "--start-when", "first-query", "--", client, "api.svc.test")
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
		})
	}
}

// TestProbesGiveAvailabilityAndRecovery: the same outage seen by a probe
// of a local HTTP service whose handler resolves the endpoint through
// dnsfault; the timeline starts at the first successful probe.
func TestProbesGiveAvailabilityAndRecovery(t *testing.T) {
	t.Parallel()
	up := dnstest.Start(t, dnstest.AnswerA("192.0.2.7"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // the service listens there
	reportFile, journalFile := filepath.Join(t.TempDir(), "report.json"), filepath.Join(t.TempDir(), "journal.json")
	r := runDnsfault(t, "run", "-s", "aws-dynamodb-us-east-1-2025", "--speed", "1800", "--start-when", "probe",
		"--probe", "http://127.0.0.1:"+port+"/", "--probe-interval", "20ms", "--journal", journalFile,
		"--upstream", up.Addr, "--report", reportFile, "--", serviceClient(t), "-http", port, "dynamodb.us-east-1.amazonaws.com")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	checkJournal(t, journalFile, "http://127.0.0.1:"+port+"/")
	t.Log(r.stderr)
	rep := readReport(t, reportFile)
	assert.Equal(t, "probe", rep.StartWhen)
	require.Len(t, rep.Clients, 1)
	for _, p := range rep.Clients[0].Phases {
		if p.Phase != "healthy" {
			assert.NotNil(t, p.Amplification, "amplification in phase %s, with no expect written", p.Phase)
		}
	}
	require.Len(t, rep.Probes, 1, "the probe's calls, apart")
	assert.Empty(t, rep.Service, "no DNSFAULT_EVENTS were written")
	assertTheServiceSawTheOutage(t, rep.Probes[0].Service, rep.Probes[0].Recovery, 80)
}

// assertTheServiceSawTheOutage checks the service's figures under the
// bundled DynamoDB outage: available when healthy, not in the outage, at
// least minRecovered percent after it, and a time to recover.
func assertTheServiceSawTheOutage(t *testing.T, service []report.ServicePhase, rec *report.Recovery, minRecovered float64) {
	t.Helper()
	byPhase := map[string]float64{}
	for _, sp := range service {
		byPhase[sp.Phase] = sp.Availability
	}
	assert.GreaterOrEqual(t, byPhase["healthy"], 90.0, "%+v", service)
	assert.LessOrEqual(t, byPhase["records-gone"], 10.0, "%+v", service)
	assert.GreaterOrEqual(t, byPhase["recovered"], minRecovered, "%+v", service)
	require.NotNil(t, rec)
	require.Equal(t, report.Recovered, rec.State, "the service recovered")
	require.NotNil(t, rec.HealthySeconds)
}

// readReport reads a report that run wrote with --report.
func readReport(t *testing.T, path string) report.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep report.Report
	require.NoError(t, json.Unmarshal(data, &rep))
	return rep
}

// TestRunExportsTheEncryptedListeners: with tls:// and https:// listeners,
// the command learns where they are and which CA to trust.
func TestRunExportsTheEncryptedListeners(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "env")
	r := runDnsfault(t, "run", "-s", scenarioFile(t, "version: 1\nupstream: none\n"),
		"--listen", "tls://127.0.0.1:0", "--listen", "https://127.0.0.1:0/dns-query", "--",
		"sh", "-c", `echo "$DNSFAULT_DOT_ADDR $DNSFAULT_DOH_URL $DNSFAULT_TLS_CA $(grep -c 'BEGIN CERTIFICATE' "$DNSFAULT_TLS_CA")" > `+out)
	require.Equal(t, 0, r.code, r.stderr)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	f := strings.Fields(string(data))
	require.Len(t, f, 4)
	assert.Regexp(t, `^127\.0\.0\.1:[1-9]\d*$`, f[0])
	assert.Regexp(t, `^https://127\.0\.0\.1:[1-9]\d*/dns-query$`, f[1])
	assert.Equal(t, "1", f[3], "the CA made at start, there while the command runs")
	assert.NoFileExists(t, f[2], "and removed after")
}

// run writes the trust anchors of the scenario's signed zones before the
// command starts, and tells it where they are.
func TestRunExportsTheDNSSECAnchors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, anchors := filepath.Join(dir, "env"), filepath.Join(dir, "anchors.ds")
	r := runDnsfault(t, "run", "-s", scenarioFile(t, "version: 1\nupstream: none\nzones: [{origin: run.test, dnssec: true}]\n"),
		"--dnssec-anchors", anchors, "--",
		"sh", "-c", `echo "$DNSFAULT_DNSSEC_ANCHORS $(grep -c 'IN	DS' "$DNSFAULT_DNSSEC_ANCHORS")" > `+out)
	require.Equal(t, 0, r.code, r.stderr)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, anchors+" 1\n", string(data))
}

// TestATLSFailHandshakeIsCounted: a handshake a tls-fail rule took is
// the client's only exchange, and shows in run's report (its rule's hits
// and rcodes), the query log, and /metrics (issue 27).
func TestATLSFailHandshakeIsCounted(t *testing.T) {
	t.Parallel()
	kdig := requireTool(t, "kdig", "knot-dnsutils")
	dir := t.TempDir()
	logFile, reportFile := filepath.Join(dir, "queries.jsonl"), filepath.Join(dir, "report.json")
	r := runDnsfault(t, "run", "-s", scenarioFile(t, "version: 1\nupstream: none\nzones: [{origin: run.test, records: [\"ok.run.test. 60 IN A 192.0.2.1\"]}]\nrules: [{name: hs, match: {transport: dot}, action: tls-fail}]\n"),
		"--listen", "127.0.0.1:0", "--listen", "tls://127.0.0.1:0", "--log-queries", logFile, "--report", reportFile, "--",
		"sh", "-c", kdig+` @"${DNSFAULT_DOT_ADDR%:*}" -p "${DNSFAULT_DOT_ADDR##*:}" +tls-ca="$DNSFAULT_TLS_CA" +tls-hostname=127.0.0.1 +retry=0 ok.run.test || true`)
	require.Equal(t, 0, r.code, r.stderr)

	rep := readReport(t, reportFile)
	var hs *report.Rule
	for _, ph := range rep.Phases {
		for i := range ph.Rules {
			if ph.Rules[i].Name == "hs" {
				hs = &ph.Rules[i]
			}
		}
	}
	require.NotNil(t, hs, "the rule's row")
	assert.Positive(t, hs.Hits)
	assert.Equal(t, hs.Hits, hs.Rcodes["tls-close"], "%v", hs.Rcodes)

	data, err := os.ReadFile(logFile)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"rcode":"tls-close"`)
	assert.Contains(t, string(data), `"transport":"dot"`)
}

// TestBadEventLinesAreSaidPlainly: a line of DNSFAULT_EVENTS that cannot
// be read is named by its number and what is wrong in the format's words,
// not Go's JSON decoder's (issue 28).
func TestBadEventLinesAreSaidPlainly(t *testing.T) {
	t.Parallel()
	r := runDnsfault(t, "run", "-s", scenarioFile(t, "version: 1\nupstream: none\n"), "--", "sh", "-c",
		`printf '%s\n' 'nope' '{"ok": "yes"}' '{"ok": true, "time": "yesterday"}' '{"latency_ms": 3}' >> "$DNSFAULT_EVENTS"`)
	assert.Contains(t, r.stderr, "4 lines of DNSFAULT_EVENTS were not read: line 1: not a JSON object (a mistake at character 2); "+
		`line 2: "ok" must be true or false, not a string; line 3: a time must be RFC 3339, such as 2026-12-08T10:00:00.123Z: got "yesterday"`)
	assert.NotContains(t, r.stderr, "invalid character")
	assert.NotContains(t, r.stderr, "literal")
}

// checkJournal reads a run's Chaos Toolkit journal and checks it against
// the journal format (chaostoolkit.org/reference/api/journal): the
// required properties and their types, the recommended ones, an
// experiment as its format has it, and a steady state from probe.
func checkJournal(t *testing.T, path, probe string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var j map[string]any
	require.NoError(t, json.Unmarshal(data, &j))
	for _, key := range []string{"experiment", "status", "start", "end", "duration", "steady_states", "run", "rollbacks"} {
		require.Contains(t, j, key, "the journal's %s", key)
	}
	assert.Contains(t, []any{"completed", "failed", "aborted"}, j["status"])
	for _, key := range []string{"start", "end"} {
		_, err := time.Parse(time.RFC3339Nano, j[key].(string))
		assert.NoError(t, err, "%s is RFC 3339", key)
		assert.True(t, strings.HasSuffix(j[key].(string), "Z"), "%s is in UTC", key)
	}
	assert.IsType(t, float64(0), j["duration"])
	exp := j["experiment"].(map[string]any)
	for _, key := range []string{"version", "title", "description", "method"} {
		require.Contains(t, exp, key, "the experiment's %s", key)
	}
	method := exp["method"].([]any)
	require.NotEmpty(t, method, "a method of at least one activity")
	for _, a := range method {
		act := a.(map[string]any)
		assert.Equal(t, "action", act["type"])
		assert.NotEmpty(t, act["name"])
		assert.Contains(t, []any{"python", "http", "process"}, act["provider"].(map[string]any)["type"])
	}
	for _, r := range j["run"].([]any) {
		res := r.(map[string]any)
		for _, key := range []string{"activity", "status", "start", "end", "duration", "output"} {
			assert.Contains(t, res, key, "a run result's %s", key)
		}
		assert.Contains(t, []any{"succeeded", "failed"}, res["status"])
	}
	hypo := exp["steady-state-hypothesis"].(map[string]any)
	assert.Equal(t, probe, hypo["probes"].([]any)[0].(map[string]any)["name"])
	before := j["steady_states"].(map[string]any)["before"].(map[string]any)
	assert.Equal(t, true, before["steady_state_met"], "the healthy phase: every probe call succeeded")
	p := before["probes"].([]any)[0].(map[string]any)
	assert.Equal(t, true, p["tolerance_met"])
	assert.Equal(t, probe, p["activity"].(map[string]any)["name"])
	assert.Contains(t, p["output"], "100.0% available")
}
