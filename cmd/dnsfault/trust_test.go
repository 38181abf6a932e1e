package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// TestIdleConnectionsDoNotLockOutTheOperator: with the server limited to
// 512 open files, another local user holding 1,000 idle connections on
// the control port stops neither an operator's `ctl status` nor DNS over
// TCP.
func TestIdleConnectionsDoNotLockOutTheOperator(t *testing.T) {
	s := serveWith(t, []string{"prlimit", "--nofile=512", "--"}, "--listen", "127.0.0.1:0", "-s", "demo")
	var idle []net.Conn
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	for range 1000 {
		c, err := net.DialTimeout("tcp", s.control, 10*time.Second)
		require.NoError(t, err, "the kernel queues connections for the server to accept")
		idle = append(idle, c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(15*time.Second))
	defer cancel()
	began := time.Now()
	out, err := exec.CommandContext(ctx, binary, "ctl", "status", "--control", s.control).CombinedOutput()
	require.NoError(t, err, "ctl status within 15 s: %s", out)
	assert.Contains(t, string(out), "scenario")
	t.Logf("ctl status answered in %v with 1,000 idle connections held", time.Since(began).Round(time.Millisecond))

	c := &dns.Client{Net: "tcp", Timeout: dnstest.Patience(10 * time.Second)}
	resp, _, err := c.Exchange(new(dns.Msg).SetQuestion("ok.demo.test.", dns.TypeA), s.addr)
	require.NoError(t, err, "DNS over TCP still answers")
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
}

// TestDNSOverTCPHoldsUnderAbuse: through dnsfault, one connection's 1,000
// pipelined queries get 1,000 answers, an RRset of 5,000 records comes
// back truncated rather than not at all, and one client's 1,000 stalled
// connections do not stop another's query.
func TestDNSOverTCPHoldsUnderAbuse(t *testing.T) {
	var big strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&big, "      - \"big.abuse.test. 60 IN A 10.0.%d.%d\"\n", i/256, i%256)
	}
	s := serve(t, "-s", scenarioFile(t, "version: 1\nupstream: none\nzones:\n  - origin: abuse.test.\n    records:\n      - \"ok.abuse.test. 60 IN A 192.0.2.1\"\n"+big.String()))

	t.Run("1,000 pipelined queries", func(t *testing.T) {
		c, err := dns.Dial("tcp", s.addr)
		require.NoError(t, err)
		defer c.Close()
		go func() {
			for i := range 1000 {
				q := new(dns.Msg).SetQuestion("ok.abuse.test.", dns.TypeA)
				q.Id = uint16(i)
				if c.WriteMsg(q) != nil {
					return
				}
			}
		}()
		seen := map[uint16]bool{}
		for range 1000 {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			m, err := c.ReadMsg()
			require.NoError(t, err, "after %d answers", len(seen))
			seen[m.Id] = true
		}
		assert.Len(t, seen, 1000)
	})
	t.Run("5,000 records", func(t *testing.T) {
		c := &dns.Client{Net: "tcp", Timeout: dnstest.Patience(10 * time.Second)}
		m, _, err := c.Exchange(new(dns.Msg).SetQuestion("big.abuse.test.", dns.TypeA), s.addr)
		require.NoError(t, err, "an answer comes")
		assert.True(t, m.Truncated, "TC: more records than a TCP message holds")
		assert.NotEmpty(t, m.Answer)
	})
	t.Run("1,000 stalled connections from one client", func(t *testing.T) {
		var stalled []net.Conn
		defer func() {
			for _, c := range stalled {
				c.Close()
			}
		}()
		d := net.Dialer{Timeout: dnstest.Patience(10 * time.Second), LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		for range 1000 {
			c, err := d.Dial("tcp", s.addr)
			require.NoError(t, err)
			stalled = append(stalled, c)
		}
		c := &dns.Client{Net: "tcp", Timeout: dnstest.Patience(5 * time.Second)}
		m, _, err := c.Exchange(new(dns.Msg).SetQuestion("ok.abuse.test.", dns.TypeA), s.addr)
		require.NoError(t, err, "another client is answered")
		assert.Equal(t, dns.RcodeSuccess, m.Rcode)
	})
}

// TestRecordingSurvivesKill9: --record writes the recording as it goes,
// so a kill -9 leaves a valid file with the queries made before it.
func TestRecordingSurvivesKill9(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rec.json")
	s := serve(t, "-s", "demo", "--record", path, "--record-every", "100ms")
	c := &dns.Client{Timeout: dnstest.Patience(5 * time.Second)}
	_, _, err := c.Exchange(new(dns.Msg).SetQuestion("ok.demo.test.", dns.TypeA), s.addr)
	require.NoError(t, err)
	// The recording is written every 100 ms: wait for it to hold the query.
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(data), "ok.demo.test.")
	}, dnstest.Patience(30*time.Second), 100*time.Millisecond, "the recording is written while dnsfault runs")
	require.NoError(t, s.cmd.Process.Kill())
	<-s.done
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var rec struct {
		Questions []struct{ Name string } `json:"questions"`
	}
	require.NoError(t, json.Unmarshal(data, &rec), "valid JSON after kill -9")
	assert.NotEmpty(t, rec.Questions)
}

func TestAnUnwritableRecordingFailsAtStart(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{
		{"serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "-s", "demo", "--record", "/nonexistent-dir/r.json"},
		{"run", "-s", "demo", "--record", "/nonexistent-dir/r.json", "--", "true"},
		{"run", "-s", "demo", "--report", "/nonexistent-dir/r.json", "--", "true"},
	} {
		t.Run(cmd[0]+" "+cmd[len(cmd)-3], func(t *testing.T) {
			r := runDnsfault(t, cmd...)
			assert.NotEqual(t, 0, r.code)
			assert.Contains(t, r.stderr, "cannot write /nonexistent-dir/r.json")
		})
	}
}

// TestTheReportsMemoryIsBounded: 500,000 distinct names through `run
// --report` keep dnsfault under 150 MB, and the report says what it
// counted together.
func TestTheReportsMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 500,000 queries")
	}
	dir := t.TempDir()
	client := filepath.Join(dir, "manynames")
	out, err := exec.Command("go", "build", "-o", client, "./testdata/manynames").CombinedOutput()
	require.NoError(t, err, string(out))
	report := filepath.Join(dir, "report.json")
	scenario := scenarioFile(t, "version: 1\nupstream: none\nzones: [{origin: many.test., records: [\"*.many.test. 60 IN A 192.0.2.1\"]}]\nrules: [{name: one, match: {names: [n1.many.test]}, action: nxdomain}]\n")
	r := runDnsfault(t, "run", "-s", scenario, "--report", report, "--", client, "500000")
	require.Equal(t, 0, r.code, r.stderr)
	var answered, peakKB int
	_, err = fmt.Sscanf(r.stdout, "answered %d\npeak %d", &answered, &peakKB)
	require.NoError(t, err, r.stdout)
	t.Logf("%d of 500,000 answered; dnsfault's peak RSS %d MB", answered, peakKB/1024)
	assert.Greater(t, answered, 490_000)
	assert.Less(t, peakKB, 150*1024, "dnsfault stays under 150 MB")
	rep := readReport(t, report)
	require.NotNil(t, rep.Overflow, "the report says names were counted together")
	assert.Greater(t, rep.Overflow.Names, 400_000)
}

// TestAFullDiskShows: with the file size limit at 512 bytes (a full disk
// as the process sees it), the query log's lost lines and the recording's
// failed writes are counted in the status, ctl status and the metrics;
// the query log holds whole lines only.
func TestAFullDiskShows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logPath, recordPath := filepath.Join(dir, "q.log"), filepath.Join(dir, "rec.json")
	full := []string{"prlimit", "--fsize=512", "--"}
	s := serveWith(t, full, "--listen", "127.0.0.1:0", "-s", "demo", "--log-queries", logPath, "--record", recordPath, "--record-every", "100ms")
	c := &dns.Client{Timeout: dnstest.Patience(5 * time.Second)}
	for i := range 20 {
		_, _, err := c.Exchange(new(dns.Msg).SetQuestion(fmt.Sprintf("n%d.ok.demo.test.", i), dns.TypeA), s.addr)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return s.status(t).QueryLogErrors >= 3 }, dnstest.Patience(10*time.Second), 50*time.Millisecond)
	assert.Contains(t, s.status(t).QueryLogError, "file too large")
	// The recording is written every 100 ms; a write fails.
	require.Eventually(t, func() bool { return s.status(t).RecordError != "" }, dnstest.Patience(30*time.Second), 100*time.Millisecond, "the failed recording shows in the status")
	r := runDnsfault(t, "ctl", "status", "--control", s.control)
	assert.Contains(t, r.stdout, "LOSING LINES")
	assert.Contains(t, r.stdout, "recording   FAILING into "+recordPath)
	assert.NotContains(t, r.stdout, "recording   into")
	resp, err := http.Get("http://" + s.control + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Regexp(t, `dnsfault_query_log_errors_total [1-9]`, string(body))
	assert.Regexp(t, `dnsfault_record_write_errors_total [1-9]`, string(body))

	data, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.NotEmpty(t, data)
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		require.True(t, strings.HasSuffix(line, "\n"), "a torn last line: %q", line)
		require.True(t, json.Valid([]byte(line)), "a torn line: %q", line)
	}
}

// TestFilesThatAreNotRegularAreRefusedAtStart: --record, --report, --junit
// and --log-queries at a device or a link are refused before anything
// runs, and the device is still a device.
func TestFilesThatAreNotRegularAreRefusedAtStart(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "link.json")
	require.NoError(t, os.Symlink("/etc/hostname", link))
	for _, cmd := range [][]string{
		{"serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "-s", "demo", "--record", "/dev/full"},
		{"serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "-s", "demo", "--log-queries", "/dev/full"},
		{"run", "-s", "demo", "--record", "/dev/full", "--", "true"},
		{"run", "-s", "demo", "--report", link, "--", "true"},
		{"run", "-s", "demo", "--junit", "/dev/null", "--", "true"},
		{"run", "-s", "demo", "--log-queries", "/dev/full", "--", "true"},
	} {
		t.Run(cmd[len(cmd)-4]+" "+cmd[len(cmd)-3], func(t *testing.T) {
			r := runDnsfault(t, cmd...)
			want := 2 // serve's bad flag
			if cmd[0] == "run" {
				want = 125 // run could not run the command
			}
			assert.Equal(t, want, r.code, r.stderr)
			assert.Regexp(t, `is not a regular file|is a symbolic link`, r.stderr)
		})
	}
	st, err := os.Lstat("/dev/full")
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&os.ModeDevice)
}

// TestServeShowsProbesLive: serve's probes are in /metrics as they run:
// up while the service accepts, down once it stops.
func TestServeShowsProbesLive(t *testing.T) {
	t.Parallel()
	svc, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		for {
			c, err := svc.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	spec := "tcp://" + svc.Addr().String()
	s := serve(t, "-s", "demo", "--probe", spec, "--probe-interval", "20ms")
	up := func(want string) func() bool {
		return func() bool {
			resp, err := http.Get("http://" + s.control + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(body), `dnsfault_probe_up{probe="`+spec+`"} `+want)
		}
	}
	require.Eventually(t, up("1"), dnstest.Patience(10*time.Second), 20*time.Millisecond, "the probe is up")
	svc.Close()
	require.Eventually(t, up("0"), dnstest.Patience(10*time.Second), 20*time.Millisecond, "the probe is down once the service stops")
}
