package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// binary is the dnsfault command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dnsfault-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "dnsfault")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building dnsfault: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool finds an external tool, or skips the test naming it; in CI
// (CI=true) a missing tool fails the test instead, since .ci/run installs it.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed, and CI must not skip: apt-get install -y %s", name, pkg)
	}
	t.Skipf("%s is not installed (apt-get install -y %s); skipping", name, pkg)
	return ""
}

// result is a finished dnsfault command.
type result struct {
	code           int
	stdout, stderr string
}

func runDnsfault(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running dnsfault: %v", err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// server is a `dnsfault serve` process.
type server struct {
	cmd  *exec.Cmd
	addr string
	host string
	port string
	// control is the control API's address.
	control string
	done    chan struct{}

	mu     sync.Mutex
	stderr bytes.Buffer
}

var servingLine = regexp.MustCompile(`on (\S+):(\d+) \(udp and tcp\), control API on http://(\S+),`)

// serve starts `dnsfault serve` on a free loopback port and waits until it
// says where it listens.
func serve(t *testing.T, args ...string) *server {
	t.Helper()
	return serveWith(t, nil, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
}

// serveWith starts `dnsfault serve` behind a command prefix (such as `ip
// netns exec NS`), with args.
func serveWith(t *testing.T, prefix []string, args ...string) *server {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), binary, "serve", "--control", "127.0.0.1:0"), args...)
	s := &server{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	pipe, err := s.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, s.cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil && s.addr == "" {
				s.host, s.port, s.addr, s.control = m[1], m[2], m[1]+":"+m[2], m[3]
				close(ready)
			}
			s.mu.Unlock()
		}
		io.Copy(io.Discard, pipe)
		// Wait only after reading stderr to its end: Wait closes the pipe,
		// and the server's last lines would be lost (os/exec's rule).
		s.cmd.Wait()
		close(s.done)
	}()
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("dnsfault serve exited early:\n%s", s.log())
	case <-time.After(dnstest.Patience(10 * time.Second)):
		s.cmd.Process.Kill()
		t.Fatalf("dnsfault serve did not start:\n%s", s.log())
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(dnstest.Patience(10 * time.Second)):
			s.cmd.Process.Kill()
		}
	})
	return s
}

// logShows waits until the server's log holds line: the server logs
// before it answers, but its log reaches the test through a pipe another
// goroutine reads.
func (s *server) logShows(t *testing.T, line string) {
	t.Helper()
	assert.Eventually(t, func() bool { return strings.Contains(s.log(), line) }, dnstest.Patience(10*time.Second), 10*time.Millisecond,
		"the log never said %q:\n%s", line, s.log())
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// dig runs dig against the server and returns its output and exit status.
func (s *server) dig(t *testing.T, args ...string) (string, int) {
	t.Helper()
	dig := requireTool(t, "dig", "bind9-dnsutils")
	ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(20*time.Second))
	defer cancel()
	// Three tries of 2 s: a busy machine may be late with one answer.
	// A test that waits for no answer passes its own +tries and +time.
	wait := fmt.Sprintf("+time=%d", int(dnstest.Patience(2*time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, dig, append([]string{"@" + s.host, "-p", s.port, "+tries=3", wait}, args...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("dig: %v", err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func TestDigSeesEachFault(t *testing.T) {
	t.Parallel()
	s := serve(t, "-s", "demo")
	cases := []struct {
		name string
		want []string
	}{
		{"ok.demo.test", []string{"status: NOERROR", "flags: qr aa rd;", "ok.demo.test.\t\t60\tIN\tA\t192.0.2.10"}},
		{"nxdomain.demo.test", []string{"status: NXDOMAIN", "ANSWER: 0", "demo.test.\t\t300\tIN\tSOA"}},
		{"servfail.demo.test", []string{"status: SERVFAIL", "EDE: 22 (No Reachable Authority): (demo: no reachable authority)"}},
		{"empty.demo.test", []string{"status: NOERROR", "ANSWER: 0, AUTHORITY: 1"}},
		{"wrong.demo.test", []string{"status: NOERROR", "wrong.demo.test.\t30\tIN\tA\t203.0.113.66"}},
		{"refused.demo.test", []string{"status: REFUSED"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := s.dig(t, tc.name)
			assert.Equal(t, 0, code, out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

func TestDigRetriesTruncatedAnswersOverTCP(t *testing.T) {
	t.Parallel()
	s := serve(t, "-s", "demo")
	out, code := s.dig(t, "truncate.demo.test")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "Truncated, retrying in TCP mode")
	assert.Contains(t, out, "truncate.demo.test.\t60\tIN\tA\t192.0.2.47")
	assert.Contains(t, out, "(TCP)")

	out, _ = s.dig(t, "+ignore", "truncate.demo.test")
	assert.Contains(t, out, "flags: qr aa tc rd;", "the UDP answer itself has TC and nothing else (AA: the name is in a zone; no RA: upstream none)")
	assert.Contains(t, out, "ANSWER: 0")
}

func TestDigTimesOutOnDrop(t *testing.T) {
	t.Parallel()
	s := serve(t, "-s", "demo")
	out, code := s.dig(t, "+tries=1", "+time=1", "drop.demo.test") // no answer comes, however long dig waits
	assert.Equal(t, 9, code, "dig exits 9 when no reply arrives:\n%s", out)
	assert.Contains(t, out, "timed out")
}

func TestDigReportsGarbage(t *testing.T) {
	t.Parallel()
	s := serve(t, "-s", "demo")
	out, _ := s.dig(t, "garbage.demo.test")
	assert.Contains(t, out, "malformed")
}

func TestKdigOverTCPAndEDNS(t *testing.T) {
	t.Parallel()
	kdig := requireTool(t, "kdig", "knot-dnsutils")
	s := serve(t, "-s", "demo")
	ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(20*time.Second))
	defer cancel()
	out, err := exec.CommandContext(ctx, kdig, "@"+s.host, "-p", s.port, "+tcp", "+edns=0", "+bufsize=1232", "ipv6-broken.demo.test", "AAAA").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "status: SERVFAIL")
	assert.Contains(t, string(out), "TCP")
	out, err = exec.CommandContext(ctx, kdig, "@"+s.host, "-p", s.port, "ipv6-broken.demo.test", "A").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "192.0.2.50", "A still works while AAAA fails")
}

func TestForwardingThroughTheBinary(t *testing.T) {
	t.Parallel()
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.1"))
	s := serve(t, "--upstream", up.Addr)
	out, code := s.dig(t, "www.example.com")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "www.example.com.\t120\tIN\tA\t198.51.100.1")
}

// TestDigNorecGetsTheUpstreamsAnswer: dig +norec (RD=0) for a forwarded
// name, through an upstream that refuses RD=0 as unbound does, gets the
// upstream's answer: dnsfault forwards as a recursive server, RD set.
func TestDigNorecGetsTheUpstreamsAnswer(t *testing.T) {
	t.Parallel()
	up := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if !r.RecursionDesired {
			w.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeRefused))
			return
		}
		dnstest.AnswerA("198.51.100.1")(w, r)
	})
	s := serve(t, "--upstream", up.Addr)
	out, code := s.dig(t, "+norec", "www.example.com")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "status: NOERROR")
	assert.Contains(t, out, "www.example.com.\t120\tIN\tA\t198.51.100.1")
	assert.NotRegexp(t, `flags:[a-z ]* rd[ ;]`, out, "the client's RD=0 comes back")
}

func TestSIGTERMExitsZero(t *testing.T) {
	t.Parallel()
	s := serve(t, "-s", "demo")
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	<-s.done
	assert.Equal(t, 0, s.cmd.ProcessState.ExitCode(), s.log())
	assert.Contains(t, s.log(), "shutting down")
}

func TestValidateReportsEveryMistakeWithItsPlace(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "scenario.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`version: 1
rules:
  - name: ddb
    match: {names: [dynamodb.us-east-1.amazonaws.com], types: [A, AAAA]}
    action: nxdomian
  - name: slow
    action: pass
    delay: 5
  - name: flaky
    action: servfail
    probability: 1.5
`), 0o644))
	r := runDnsfault(t, "validate", file)
	assert.Equal(t, 1, r.code)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	require.Len(t, lines, 4, r.stderr)
	assert.Equal(t, file+`:5:13: unknown action "nxdomian" (did you mean "nxdomain"?)`, lines[0])
	assert.Equal(t, file+`:8:12: delay must be a duration such as 250ms, 30s or 2h30m, got "5"`, lines[1])
	assert.Equal(t, file+`:11:18: probability must be a number from 0 to 1, got "1.5"`, lines[2])
	assert.Equal(t, "1 of 1 scenario files have errors", lines[3])
}

func TestValidateAcceptsGoodFilesAndBundledNames(t *testing.T) {
	t.Parallel()
	r := runDnsfault(t, "validate", "demo")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "demo: ok (demo: 1 phase, 12 rules)")
}

func TestServeRefusesABadScenarioBeforeListening(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(file, []byte("version: 1\nrules: [{action: nxdomian}]\n"), 0o644))
	r := runDnsfault(t, "serve", "--listen", "127.0.0.1:0", "-s", file)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, file+`:2:18: unknown action "nxdomian" (did you mean "nxdomain"?)`)
	assert.NotContains(t, r.stderr, "serving")
}

func TestBadFlagsAreNamed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--upstream", "dns.example"}, `--upstream: "dns.example" is not system, none, or an IP address`},
		{[]string{"serve", "--set", "region"}, `--set "region": expected name=value`},
		{[]string{"serve", "--allow", "10.0.0.0/99"}, `--allow "10.0.0.0/99": expected a CIDR`},
		{[]string{"serve", "--listen", "0.0.0.0:0"}, "listen address 0.0.0.0:0 is not loopback: give --allow CIDR"},
		{[]string{"serve", "-s", "demo", "--set", "x=1"}, `--set x: the scenario has no parameter "x"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runDnsfault(t, tc.args...)
			assert.NotEqual(t, 0, r.code)
			assert.Contains(t, r.stderr, tc.want)
		})
	}
}

func TestScenariosListAndShow(t *testing.T) {
	t.Parallel()
	r := runDnsfault(t, "scenarios", "list")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "demo")
	r = runDnsfault(t, "scenarios", "show", "demo")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "name: demo")
}

// errorsAs is errors.As, for tests that shadow the errors package name.
func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestValidateReportsEveryMistakeInOnePass: top-level rules beside phases
// is one mistake among others, and does not hide them (issue 28).
func TestValidateReportsEveryMistakeInOnePass(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "both.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`version: 1
rules:
  - {match: {names: [a.test]}, action: nxdomian}
phases:
  - {name: one, duration: 1m, rules: [{action: servfial}]}
  - {name: two, rules: [{action: drop, probability: 2}]}
`), 0o644))
	r := runDnsfault(t, "validate", file)
	assert.Equal(t, 1, r.code)
	for _, want := range []string{
		"both.yaml:3:3: give either top-level rules (one endless phase) or phases, not both",
		`both.yaml:3:40: unknown action "nxdomian"`,
		`both.yaml:5:48: unknown action "servfial"`,
		"both.yaml:6:53: probability must be a number from 0 to 1",
	} {
		assert.Contains(t, r.stderr+r.stdout, want)
	}
}
