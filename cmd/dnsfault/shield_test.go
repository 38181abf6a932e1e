package main_test

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// The attacks of issue 30 on the DoH listener, each against a real
// `dnsfault serve` process whose peak memory (VmHWM) the test reads.

var dohLine = regexp.MustCompile(`DNS over HTTPS at https://(\S+)/dns-query`)

// serveDoH starts dnsfault with the demo and a DoH listener, behind a
// command prefix (nil for none), and gives the DoH listener's address.
func serveDoH(t *testing.T, prefix []string, args ...string) (*server, string) {
	t.Helper()
	s := serveWith(t, prefix, append([]string{"-s", "demo", "--listen", "127.0.0.1:0", "--listen", "https://127.0.0.1:0/dns-query"}, args...)...)
	var m []string
	require.Eventually(t, func() bool { m = dohLine.FindStringSubmatch(s.log()); return m != nil }, dnstest.Patience(10*time.Second), 10*time.Millisecond, s.log())
	return s, m[1]
}

// peakRSS is the process's peak resident memory in bytes (VmHWM).
func (s *server) peakRSS(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	require.NoError(t, err)
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	require.NotNil(t, m, "VmHWM in /proc/PID/status")
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// stillAnswers requires the server to answer over UDP: it did not die.
func (s *server) stillAnswers(t *testing.T) {
	t.Helper()
	resp, _, err := dnstest.Exchange(s.addr, "udp", dnstest.Query("ok.demo.test.", dns.TypeA), 5*time.Second)
	require.NoError(t, err, s.log())
	require.Equal(t, dns.RcodeSuccess, resp.Rcode)
}

// h2Dial opens an HTTP/2 connection over TLS from the local address
// from ("" for any) and sends the client preface.
func h2Dial(t *testing.T, addr, from string) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: dnstest.Patience(10 * time.Second)}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return nil, err
	}
	return c, nil
}

// requestHeaders is the header block of a DoH request for ok.demo.test.
func requestHeaders(method string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	path := "/dns-query"
	if method == http.MethodGet {
		wire, _ := dnstest.Query("ok.demo.test.", dns.TypeA).Pack()
		path += "?dns=" + base64.RawURLEncoding.EncodeToString(wire)
	}
	for _, f := range [][2]string{{":method", method}, {":scheme", "https"}, {":authority", "127.0.0.1"}, {":path", path}, {"content-type", "application/dns-message"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return buf.Bytes()
}

// TestDoHMaxFrameSizeZeroEndsTheConnection: SETTINGS_MAX_FRAME_SIZE=0,
// then a GET, used to be written as endless CONTINUATION frames until the
// process ran out of memory. Now it is a connection error, at once.
func TestDoHMaxFrameSizeZeroEndsTheConnection(t *testing.T) {
	s, addr := serveDoH(t, nil)
	c, err := h2Dial(t, addr, "")
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	require.NoError(t, fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 0}))
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestHeaders(http.MethodGet), EndStream: true, EndHeaders: true}))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	ended := false
	for !ended {
		f, err := fr.ReadFrame()
		if err != nil {
			var ne net.Error
			require.False(t, errorsAs(err, &ne) && ne.Timeout(), "no connection error within 2 s")
			ended = true // closed
			break
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			assert.Equal(t, http2.ErrCodeProtocol, g.ErrCode)
			ended = true
		}
		_, isHeaders := f.(*http2.HeadersFrame)
		assert.False(t, isHeaders, "no answer under a frame size of 0")
	}
	s.stillAnswers(t)
	assert.Less(t, s.peakRSS(t), int64(100<<20), "peak memory")
}

// TestDoHControlFrameFloodsAreBounded: 8 connections that never read send
// PING and SETTINGS frames as fast as they can. Their acknowledgements
// once queued without bound; now the server closes such a connection and
// stays small.
func TestDoHControlFrameFloodsAreBounded(t *testing.T) {
	s, addr := serveDoH(t, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		c, err := h2Dial(t, addr, "")
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fr := http2.NewFramer(c, nil) // never reads
			fr.WriteSettings()
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			for n := range 300_000 {
				var err error
				if i%2 == 0 {
					err = fr.WritePing(false, [8]byte{byte(n)})
				} else {
					err = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(n)})
				}
				if err != nil {
					return // the server closed it, or stopped reading
				}
			}
		}()
	}
	wg.Wait()
	s.stillAnswers(t)
	assert.Less(t, s.peakRSS(t), int64(200<<20), "peak memory")
}

// TestDoHOneClientCannotLockOthersOut: with 512 open files, one address
// opens 1,000 connections, each holding a request whose body never comes,
// and 200 more that never finish their TLS handshake. Another client's
// DoH is still answered within 2 s, and the control API still works.
func TestDoHOneClientCannotLockOthersOut(t *testing.T) {
	ulimit := []string{"prlimit", "--nofile=512", "--"}
	s, addr := serveDoH(t, ulimit)
	held := 0
	for range 1000 {
		c, err := h2Dial(t, addr, "127.0.0.1")
		if err != nil {
			continue // turned away: over the client's share
		}
		fr := http2.NewFramer(c, c)
		if fr.WriteSettings() != nil || fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestHeaders(http.MethodPost), EndHeaders: true}) != nil {
			continue
		}
		held++
	}
	t.Logf("the greedy client holds %d unfinished streams", held)
	assert.Positive(t, held)
	for range 200 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
	}

	other := &http.Client{Transport: &http.Transport{
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}, Timeout: 2 * time.Second} // the bound asserted, not scaled
	wire, err := dnstest.Query("ok.demo.test.", dns.TypeA).Pack()
	require.NoError(t, err)
	r, err := other.Post("https://"+addr+"/dns-query", "application/dns-message", bytes.NewReader(wire))
	require.NoError(t, err, "another client's DoH within 2 s")
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode, string(body))
	assert.Equal(t, "HTTP/2.0", r.Proto)

	st := s.ctl(t, "status")
	assert.Equal(t, 0, st.code, "ctl status under ulimit -n 512: %s", st.stderr)
	s.stillAnswers(t)
}

// TestDoHAnUnfinishedStreamCloses: a request whose body never comes is
// reset after the idle timeout, as an idle connection is closed.
func TestDoHAnUnfinishedStreamCloses(t *testing.T) {
	t.Parallel()
	_, addr := serveDoH(t, nil, "--tcp-idle-timeout", "300ms")
	c, err := h2Dial(t, addr, "")
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	require.NoError(t, fr.WriteSettings())
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestHeaders(http.MethodPost), EndHeaders: true}))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "the stream is reset before the connection goes")
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			assert.Equal(t, uint32(1), rst.StreamID)
			return
		}
		if fr.WriteSettings() != nil { // keep the connection itself busy
			t.Fatal("the connection closed before the stream was reset")
		}
	}
}

// h2specAllowed are the h2spec 2.2.1 cases Go's own HTTP/2 server fails
// too (issue 30): nothing else may fail.
var h2specAllowed = map[string]bool{"http2/4.2/3": true, "http2/6.5.3/1": true, "http2/8.1.2.2/1": true, "http2/8.1.2.2/2": true}

// TestH2Spec runs h2spec against the DoH listener. A case that fails
// beyond the allowed four is run once more on its own before it counts:
// a few of h2spec's cases race the server's answer against the frames
// they send next, and a loaded machine can lose that race once.
func TestH2Spec(t *testing.T) {
	h2spec := requireTool(t, "h2spec", "h2spec (.ci/install-test-tools builds it)")
	_, addr := serveDoH(t, nil)
	host, port, _ := net.SplitHostPort(addr)
	run := func(cases ...string) (total int, failed []string) {
		report := filepath.Join(t.TempDir(), "h2spec.xml")
		out, _ := exec.Command(h2spec, append([]string{"-h", host, "-p", port, "-t", "-k", "--path", "/dns-query", "-o", "5", "-j", report}, cases...)...).CombinedOutput()
		raw, err := os.ReadFile(report)
		require.NoError(t, err, "h2spec wrote no report:\n%s", out)
		var suites struct {
			Suites []struct {
				Package string `xml:"package,attr"`
				Cases   []struct {
					Error   *struct{} `xml:"error"`
					Failure *struct{} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		require.NoError(t, xml.Unmarshal(raw, &suites))
		for _, s := range suites.Suites {
			for i, c := range s.Cases {
				total++
				if c.Error != nil || c.Failure != nil {
					failed = append(failed, fmt.Sprintf("%s/%d", s.Package, i+1))
				}
			}
		}
		return total, failed
	}
	total, failed := run()
	t.Logf("h2spec: %d of %d pass; failed: %s", total-len(failed), total, strings.Join(failed, ", "))
	assert.Greater(t, total, 140, "h2spec ran its cases")
	for _, id := range failed {
		if h2specAllowed[id] {
			continue
		}
		_, again := run(id)
		assert.Empty(t, again, "h2spec %s fails, twice", id)
	}
}

// TestAnAliasBombIsRefusedSmall: issue 30's 900 KB file, whose alias
// stands for a 300 KB scalar 150,000 times, sent to a running server with
// ctl load (PUT /v1/scenario) and to validate: refused with one short
// line, the server still serving its scenario, under 200 MB at its peak.
func TestAnAliasBombIsRefusedSmall(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nparams:\n  big: &b \"" + strings.Repeat("x", 300_000) + "\"\nrules:\n  - {name: r, match: {names: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*b, ", 150_000), ", "))
	b.WriteString("]}, action: servfail}\n")
	bomb := filepath.Join(t.TempDir(), "bomb.yaml")
	require.NoError(t, os.WriteFile(bomb, []byte(b.String()), 0o644))

	s := serve(t, "-s", "demo")
	r := s.ctl(t, "load", bomb)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "YAML aliases")
	assert.Less(t, len(r.stderr), 400, "a short error: %s", r.stderr)
	assert.Equal(t, "demo", s.status(t).Scenario, "the good scenario stays")
	s.stillAnswers(t)
	assert.Less(t, s.peakRSS(t), int64(200<<20), "peak memory")

	v := runDnsfault(t, "validate", bomb)
	assert.NotEqual(t, 0, v.code)
	assert.Less(t, len(v.stdout+v.stderr), 400)
}

// floodScenario is a signed NSEC3 zone at the most iterations allowed,
// and a signed zone whose every name an nxdomain rule denies with white
// lies signed on the spot.
const floodScenario = `version: 1
name: flood
upstream: none
zones:
  - origin: n3.test.
    dnssec: {nsec3: {iterations: 150, salt: AABBCCDD}}
    records: ["www 300 IN A 192.0.2.1"]
  - origin: lies.test.
    dnssec: true
    records: ["www 300 IN A 192.0.2.2"]
rules:
  - {name: gone, match: {names: ["*.lies.test"]}, action: nxdomain}
`

// TestASignedFloodLeavesOthersAnswered: one client floods random names of
// signed zones at full speed, each needing NSEC3 hashes or white lies
// signed on the spot; another client (another /24) asking 200 a second is
// still answered, at least 99% of its queries within 100 ms. Without
// --signing-budget, about half of them were lost.
func TestASignedFloodLeavesOthersAnswered(t *testing.T) {
	file := filepath.Join(t.TempDir(), "flood.yaml")
	require.NoError(t, os.WriteFile(file, []byte(floodScenario), 0o644))
	s := serve(t, "-s", file)

	flood, err := net.Dial("udp", s.addr)
	require.NoError(t, err)
	defer flood.Close()
	stop := make(chan struct{})
	flooded := make(chan int)
	go func() {
		sent := 0
		for ; sent < 5_000_000; sent++ {
			select {
			case <-stop:
				flooded <- sent
				return
			default:
			}
			zone := "n3.test."
			if sent%2 == 1 {
				zone = "lies.test."
			}
			m := dnstest.Query(fmt.Sprintf("r%d-%d.%s", sent, time.Now().UnixNano()%1000, zone), dns.TypeA)
			m.SetEdns0(1232, true)
			wire, _ := m.Pack()
			flood.Write(wire)
		}
		flooded <- sent
	}()

	other := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("127.0.1.1")}}}
	names := []string{"www.n3.test.", "nope.n3.test.", "www.lies.test.", "x.lies.test."}
	const asked = 400
	late := 0
	// A client at 200 queries a second: its answers cost far less than
	// --signing-budget's 50 ms a second.
	pace := time.NewTicker(5 * time.Millisecond)
	defer pace.Stop()
	for i := range asked {
		<-pace.C
		m := dnstest.Query(names[i%len(names)], dns.TypeA)
		m.SetEdns0(1232, true)
		resp, rtt, err := other.Exchange(m, s.addr)
		if err != nil || resp.Truncated || rtt > 100*time.Millisecond {
			late++
			t.Logf("late or lost: query %d (%s): %v after %v", i, names[i%len(names)], err, rtt)
		}
	}
	close(stop)
	sent := <-flooded
	t.Logf("flood: %d queries; the other client: %d of %d late or lost", sent, late, asked)
	assert.LessOrEqual(t, late, asked/100, "at least 99%% within 100 ms")

	resp, err := http.Get("http://" + s.control + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Regexp(t, `dnsfault_signing_limited_total [1-9]`, string(body), "the flood was limited")
}
