package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// encryptedScenario: web.enc.test is a local HTTP service's name; the
// DoH-only rule fails broken.enc.test over DoH alone.
const encryptedScenario = `version: 1
name: encrypted
upstream: none
zones: [{origin: enc.test., records: ["web.enc.test. 60 IN A 127.0.0.1", "broken.enc.test. 60 IN A 127.0.0.1"]}]
rules:
  - {name: doh-down, match: {names: [broken.enc.test], transport: doh}, action: servfail}
`

var encryptedLine = regexp.MustCompile(`DNS over TLS on (\S+), DNS over HTTPS at (\S+) \(trust the CA made at start: (\S+)\)`)

// TestKdigAndCurlOverTheEncryptedListeners: kdig +tls and +https, and curl
// resolving through --doh-url, against the listeners and the CA made at
// start; a DoH-scoped rule fails DoH and leaves plain DNS alone.
func TestKdigAndCurlOverTheEncryptedListeners(t *testing.T) {
	t.Parallel()
	kdig := requireTool(t, "kdig", "knot-dnsutils")
	curl := requireTool(t, "curl", "curl")
	dir := t.TempDir()
	file := filepath.Join(dir, "enc.yaml")
	require.NoError(t, os.WriteFile(file, []byte(encryptedScenario), 0o644))
	ca := filepath.Join(dir, "ca.pem")
	s := serve(t, "-s", file, "--listen", "tls://127.0.0.1:0", "--listen", "https://127.0.0.1:0/dns-query", "--tls-ca-out", ca)
	var m []string
	require.Eventually(t, func() bool { m = encryptedLine.FindStringSubmatch(s.log()); return m != nil }, dnstest.Patience(10*time.Second), 10*time.Millisecond, s.log())
	dotHost, dotPort, _ := net.SplitHostPort(m[1])
	require.Equal(t, ca, m[3])
	dohURL := m[2]
	dohHostPort := strings.TrimSuffix(strings.TrimPrefix(dohURL, "https://"), "/dns-query")
	dohHost, dohPort, _ := net.SplitHostPort(dohHostPort)

	kdigRun := func(args ...string) string {
		out, err := exec.Command(kdig, args...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	out := kdigRun("@"+dotHost, "-p", dotPort, "+tls", "+tls-ca="+ca, "+tls-hostname=127.0.0.1", "broken.enc.test", "A")
	assert.Contains(t, out, "status: NOERROR", "DoT is not DoH")
	assert.Contains(t, out, "TLS session", "kdig says it spoke TLS")
	out = kdigRun("@"+dohHost, "-p", dohPort, "+https=/dns-query", "+tls-ca="+ca, "+tls-hostname=127.0.0.1", "broken.enc.test", "A")
	assert.Contains(t, out, "status: SERVFAIL", "the DoH-scoped rule")
	assert.Contains(t, out, "HTTP session (HTTP/2-POST)", "kdig says it spoke DoH over HTTP/2")
	out = kdigRun("@"+dohHost, "-p", dohPort, "+https=/dns-query", "+tls-ca="+ca, "+tls-hostname=127.0.0.1", "web.enc.test", "A")
	assert.Contains(t, out, "status: NOERROR")

	// curl resolves the service's name through DoH, then fetches from it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello from web") })}
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })
	_, webPort, _ := net.SplitHostPort(ln.Addr().String())
	fetch := func(name string) (string, int) {
		cmd := exec.Command(curl, "-sS", "--max-time", "20", "--cacert", ca, "--doh-url", dohURL, "http://"+name+":"+webPort+"/")
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	body, code := fetch("web.enc.test")
	assert.Equal(t, 0, code, body)
	assert.Equal(t, "hello from web", body)
	body, code = fetch("broken.enc.test")
	assert.Equal(t, 6, code, "curl: could not resolve host, through DoH: %s", body)

	// The transport faults, as each client reports them.
	r := s.ctl(t, "add", "busy", "--all-names", "--transport", "doh", "--action", "http-status", "--status", "503", "--retry-after", "30s")
	require.Equal(t, 0, r.code, r.stderr)
	body, code = fetch("web.enc.test")
	assert.Equal(t, 6, code, "curl: the DoH answer was an HTTP 503: %s", body)
	raw, _ := exec.Command(kdig, "@"+dohHost, "-p", dohPort, "+https=/dns-query", "+tls-ca="+ca, "+tls-hostname=127.0.0.1", "web.enc.test", "A").CombinedOutput()
	assert.Contains(t, string(raw), "status: 503", "kdig names the HTTP status: %s", raw)
	require.Equal(t, 0, s.ctl(t, "reset").code)

	r = s.ctl(t, "add", "hs", "--transport", "dot", "--action", "tls-fail")
	require.Equal(t, 0, r.code, r.stderr)
	raw, _ = exec.Command(kdig, "@"+dotHost, "-p", dotPort, "+tls", "+tls-ca="+ca, "+tls-hostname=127.0.0.1", "+retry=0", "web.enc.test", "A").CombinedOutput()
	assert.Contains(t, string(raw), "TLS, handshake failed (A TLS fatal alert has been received.)", "kdig: %s", raw)
	resp, err := http.Get("http://" + s.control + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Regexp(t, `dnsfault_queries_total\{action="tls-fail",phase="[^"]*",qtype="None",rcode="tls-close",rule="hs",transport="dot"\} [1-9]`, string(metrics), "the handshake is counted")
	require.Equal(t, 0, s.ctl(t, "reset").code)
}
