package main_test

import (
	"bufio"
	"context"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// The examples of README.md and docs/*.md are run as written, each
// shell block in a sandbox of its own (issue 28): a reader who copies one
// gets what it says. Only the addresses change: each port a block names
// becomes a free one, the machine's resolver a fake upstream, and
// `dnsfault` (or bin/dnsfault) the binary under test. What talks to no
// server, or stands for the reader's own program, is left out by
// docLineSkips, each with its reason.

// docLineSkips are the lines not run, and why.
var docLineSkips = []struct {
	pattern *regexp.Regexp
	why     string
}{
	{regexp.MustCompile(`^make (test|fuzz|soak|lint|bench)\b`), "the developer's targets: CI runs them itself"},
	{regexp.MustCompile(`^go build\b`), "the binary under test is built already"},
	{regexp.MustCompile(`integration-tests\.sh`), "stands for the reader's own tests"},
	{regexp.MustCompile(`^pip install`), "Chaos Toolkit's reporting is a Python tool, not installed here"},
	{regexp.MustCompile(`^(make image|podman run|docker run)\b`), "TestTheImageServesEveryTransport builds and runs the image"},
}

// docBlock is one shell block of a document.
type docBlock struct {
	file  string
	line  int
	lines []string // commands, continuations and here-documents joined
}

func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	files, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	fence := regexp.MustCompile("(?s)```(?:sh|bash|shell)\n(.*?)```")
	var out []docBlock
	for _, f := range append([]string{"../../README.md"}, files...) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range fence.FindAllSubmatchIndex(data, -1) {
			b := docBlock{file: strings.TrimPrefix(f, "../../"), line: strings.Count(string(data[:m[0]]), "\n") + 1}
			var pending, heredoc string
			for _, line := range strings.Split(string(data[m[2]:m[3]]), "\n") {
				switch {
				case heredoc != "":
					pending += "\n" + line
					if strings.TrimSpace(line) == heredoc {
						b.lines, pending, heredoc = append(b.lines, pending), "", ""
					}
				case strings.HasSuffix(line, "\\"):
					pending += strings.TrimSuffix(line, "\\")
				default:
					pending += line
					if h := regexp.MustCompile(`<<'?(\w+)'?`).FindStringSubmatch(pending); h != nil {
						heredoc = h[1]
						continue
					}
					if strings.TrimSpace(strings.SplitN(pending, "#", 2)[0]) != "" {
						b.lines = append(b.lines, pending)
					}
					pending = ""
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// sandbox is where a block runs: its own directory, ports and servers.
type sandbox struct {
	t       *testing.T
	dir     string
	ports   map[string]string // a port the docs name, and the free one it becomes
	env     []string
	servers []*exec.Cmd
	unbound bool // started, for the blocks that ask it
	mu      sync.Mutex
	log     strings.Builder
}

func newSandbox(t *testing.T, upstream string) *sandbox {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.Symlink(binary, filepath.Join(dir, "bin", "dnsfault")))
	require.NoError(t, os.Symlink(filepath.Join(repoRoot(t), "examples"), filepath.Join(dir, "examples")))
	// The scenario files the docs write or name beside them.
	for _, f := range []string{"dynamodb-empty.yaml"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "scenarios", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "next.yaml"), []byte("version: 1\nname: next\nupstream: none\n"), 0o644))
	s := &sandbox{t: t, dir: dir, ports: map[string]string{}}
	for _, p := range []string{"1053", "8053", "8443", "8853", "5300", "8080"} {
		s.ports[p] = fmt.Sprint(dnstest.FreePort(t))
	}
	s.env = append(os.Environ(), "PATH="+filepath.Join(dir, "bin")+":"+os.Getenv("PATH"),
		"DNSFAULT_CONTROL=127.0.0.1:"+s.ports["8053"], "UPSTREAM="+upstream)
	t.Cleanup(s.stop)
	return s
}

// rewrite makes a documented command run here: free ports, the fake
// upstream, files in the sandbox.
func (s *sandbox) rewrite(line string) string {
	line = withoutComment(line)
	line = strings.ReplaceAll(line, "127.0.0.53:53", "$UPSTREAM")
	line = strings.ReplaceAll(line, "/tmp/anchors.ds", "anchors.ds")
	for doc, free := range s.ports {
		line = regexp.MustCompile(`\b`+doc+`\b`).ReplaceAllString(line, free)
	}
	return line
}

// withoutComment is a one-line command without its trailing comment.
func withoutComment(line string) string {
	if strings.Contains(line, "\n") {
		return line // a here-document: its lines are data
	}
	return strings.TrimSpace(regexp.MustCompile(`\s+#.*$`).ReplaceAllString(line, ""))
}

// serverLine tells whether a command starts a server, which runs in the
// background while the block's next commands talk to it.
func serverLine(line string) bool {
	return regexp.MustCompile(`(^|\s)(bin/)?dnsfault serve\b|^make run\b`).MatchString(line)
}

// start runs a server line and waits until it serves.
func (s *sandbox) start(line string) *exec.Cmd {
	s.t.Helper()
	line = strings.TrimSpace(strings.TrimSuffix(withoutComment(line), "&"))
	if strings.HasPrefix(line, "make run") {
		line = "bin/dnsfault serve -s demo --listen 127.0.0.1:1053" // what the Makefile's run does
	}
	if !strings.Contains(line, "--upstream") {
		line += " --upstream $UPSTREAM" // never the machine's resolver
	}
	if !strings.Contains(line, "--control") {
		line += " --control 127.0.0.1:8053"
	}
	if !strings.Contains(line, "--listen") {
		line += " --listen 127.0.0.1:1053"
	}
	cmd := exec.Command("sh", "-c", "exec "+s.rewrite(line))
	cmd.Dir, cmd.Env = s.dir, s.env
	stderr, err := cmd.StderrPipe()
	require.NoError(s.t, err)
	require.NoError(s.t, cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.Contains(sc.Text(), "dnsfault: serving") {
				once.Do(func() { close(ready) })
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-ready:
	case <-time.After(dnstest.Patience(30 * time.Second)):
		cmd.Process.Kill()
		s.t.Fatalf("%s did not start:\n%s", line, s.logText())
	}
	s.servers = append(s.servers, cmd)
	// The files it writes for its clients come after the banner: wait
	// for them as a reader waits for the server's next lines.
	for _, flag := range []string{"--tls-ca-out", "--dnssec-anchors"} {
		if m := regexp.MustCompile(flag + `\s+(\S+)`).FindStringSubmatch(s.rewrite(line)); m != nil {
			path := filepath.Join(s.dir, m[1])
			require.Eventually(s.t, func() bool {
				info, err := os.Stat(path)
				return err == nil && info.Size() > 0
			}, dnstest.Patience(30*time.Second), 10*time.Millisecond, "%s %s", flag, path)
		}
	}
	return cmd
}

// stop ends the servers the block started, as Ctrl-C does.
func (s *sandbox) stop() {
	for _, cmd := range s.servers {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(dnstest.Patience(10 * time.Second)):
			cmd.Process.Kill()
			<-done
		}
	}
	s.servers = nil
}

func (s *sandbox) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// run runs a command line, and returns its output and exit status.
func (s *sandbox) run(line string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(120*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", s.rewrite(line))
	cmd.Dir, cmd.Env = s.dir, s.env
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// digFor is a documented dig as the test runs it: three tries, as a
// resolver would, but one for the name that never answers.
func digFor(line string) string {
	tries := "+tries=3 +time=5"
	if strings.Contains(line, "drop.demo.test") {
		tries = "+tries=1 +time=2" // no answer comes, however long dig waits
	}
	return regexp.MustCompile(`^dig `).ReplaceAllString(line, "dig "+tries+" ")
}

// expectedStatus is the rcode a dig line's comment promises, if any.
var expectedStatus = regexp.MustCompile(`#.*?\b(NOERROR|NXDOMAIN|SERVFAIL|REFUSED)\b`)

func TestTheDocsExamplesRun(t *testing.T) {
	t.Parallel()
	requireTool(t, "dig", "bind9-dnsutils")
	requireTool(t, "kdig", "knot-dnsutils")
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.7"))
	// examples/ci/test.sh runs the checkout service CHECKOUT names.
	checkout := filepath.Join(t.TempDir(), "checkout")
	build := exec.Command("go", "build", "-o", checkout, "./examples/ci/checkout")
	build.Dir = repoRoot(t)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	lastServer := map[string]string{} // by document: the server its next blocks talk to
	for _, b := range docBlocks(t) {
		// A block that talks to a server it does not start talks to the
		// one its document started last ("with make run going").
		own, talks := false, false
		for _, line := range b.lines {
			own = own || serverLine(line)
			talks = talks || regexp.MustCompile(`^(dig|kdig|curl|(bin/)?dnsfault ctl)\b`).MatchString(strings.TrimSpace(line))
		}
		inherited := ""
		if talks && !own {
			inherited = lastServer[b.file]
		}
		for _, line := range b.lines {
			if serverLine(line) {
				lastServer[b.file] = line
			}
		}
		t.Run(fmt.Sprintf("%s:%d", b.file, b.line), func(t *testing.T) {
			s := newSandbox(t, up.Addr)
			s.env = append(s.env, "CHECKOUT="+checkout)
			if inherited != "" {
				s.start(inherited)
			}
			for _, line := range b.lines {
				command := strings.TrimSpace(line)
				skip := ""
				for _, sk := range docLineSkips {
					if sk.pattern.MatchString(command) {
						skip = sk.why
					}
				}
				switch {
				case skip != "":
					t.Logf("not run: %s (%s)", command, skip)
				case serverLine(command):
					s.start(command)
					if strings.Contains(command, "--record") {
						// "Ctrl-C writes the file": ask it something, then stop it.
						s.run("dig +tries=3 +time=5 @127.0.0.1 -p 1053 dynamodb.us-east-1.amazonaws.com")
						s.stop()
					}
				case strings.HasPrefix(command, "dig @127.0.0.1 -p 5300"):
					s.startUnbound(t)
					out, code := s.run(digFor(command))
					assert.Equal(t, 0, code, "%s:\n%s", command, out)
					assert.Contains(t, out, "status: NOERROR", command)
				case strings.HasPrefix(command, "dig "):
					out, code := s.run(digFor(command))
					switch {
					case strings.Contains(command, "drop.demo.test"):
						assert.Equal(t, 9, code, "%s: no answer:\n%s", command, out)
					case strings.Contains(command, "garbage.demo.test"):
						assert.Contains(t, out, "malformed", command)
					case strings.Contains(command, "flaky.demo.test"):
						assert.Regexp(t, `status: (NOERROR|SERVFAIL)`, out, command)
					default:
						assert.Equal(t, 0, code, "%s:\n%s", command, out)
						if m := expectedStatus.FindStringSubmatch(command); m != nil {
							assert.Contains(t, out, "status: "+m[1], command)
						}
					}
				default:
					out, code := s.run(command)
					assert.Equal(t, 0, code, "%s:\n%s\nserver:\n%s", command, out, s.logText())
				}
			}
			s.stop()
		})
	}
}

// unbound starts, once per block, the validating unbound docs/dnssec.md
// describes on its port 5300, with a stub zone to the block's dnsfault.
func (s *sandbox) startUnbound(t *testing.T) {
	t.Helper()
	if s.unbound {
		return
	}
	bin := requireToolPath(t, "unbound", "unbound")
	conf := filepath.Join(s.dir, "unbound.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %s
  do-daemonize: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  use-syslog: no
  logfile: ""
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "validator iterator"
  trust-anchor-file: %q
  aggressive-nsec: yes
stub-zone:
  name: "slack.com"
  stub-addr: 127.0.0.1@%s
`, s.ports["5300"], s.dir, filepath.Join(s.dir, "unbound.pid"), filepath.Join(s.dir, "anchors.ds"), s.ports["1053"])), 0o644))
	cmd := exec.Command(bin, "-d", "-c", conf)
	require.NoError(t, cmd.Start())
	s.servers = append(s.servers, cmd)
	require.Eventually(t, func() bool {
		_, code := s.run("dig +tries=1 +time=1 @127.0.0.1 -p 5300 app.slack.com A")
		return code == 0
	}, dnstest.Patience(30*time.Second), 100*time.Millisecond, "unbound on 5300")
	s.unbound = true
}

// repoRoot is the repository's top directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	return root
}

// requireToolPath finds a program that may live in /usr/sbin.
func requireToolPath(t *testing.T, name, pkg string) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/" + name, "/usr/bin/" + name} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return requireTool(t, name, pkg)
}
