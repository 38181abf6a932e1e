package main_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// TestDnstapAsTheToolsReadIt: serve --dnstap file:PATH records a dig run
// that dnstap-ldns and BIND's dnstap-read both read back: a CLIENT_QUERY
// for each query of the query log, a CLIENT_RESPONSE with the same rcode
// for each answer, a FORWARDER_QUERY and _RESPONSE for the one forwarded,
// and in each response's extra (and version, which the tools print) the
// phase, the rule and the action (issue 28).
func TestDnstapAsTheToolsReadIt(t *testing.T) {
	t.Parallel()
	ldns := requireTool(t, "dnstap-ldns", "dnstap-ldns")
	read := requireTool(t, "dnstap-read", "bind9-dnsutils")
	dir := t.TempDir()
	tapFile, logFile := filepath.Join(dir, "run.dnstap"), filepath.Join(dir, "queries.jsonl")
	scenario := filepath.Join(dir, "tap.yaml")
	require.NoError(t, os.WriteFile(scenario, []byte(`version: 1
zones: [{origin: tap.test., records: ["ok.tap.test. 60 IN A 192.0.2.1"]}]
rules:
  - {name: gone, match: {names: [gone.tap.test]}, action: nxdomain}
  - {name: broken, match: {names: [broken.tap.test]}, action: servfail}
`), 0o644))
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.7"))
	s := serve(t, "-s", scenario, "--upstream", up.Addr, "--dnstap", "file:"+tapFile, "--log-queries", logFile)
	for _, name := range []string{"ok.tap.test", "gone.tap.test", "broken.tap.test", "www.example.com", "ok.tap.test"} {
		out, code := s.dig(t, name)
		require.Equal(t, 0, code, out)
	}
	out, code := s.dig(t, "+tcp", "gone.tap.test")
	require.Equal(t, 0, code, out)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(dnstest.Patience(10 * time.Second)):
		t.Fatal("serve did not stop")
	}

	// What the query log says was answered.
	var logged []string
	f, err := os.Open(logFile)
	require.NoError(t, err)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct{ Rcode string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		logged = append(logged, line.Rcode)
	}
	f.Close()
	require.Len(t, logged, 6)

	// dnstap-ldns: a query and a response for each, and the forwarded one.
	text, err := exec.Command(ldns, "-r", tapFile).CombinedOutput()
	require.NoError(t, err, "%s", text)
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			counts[f[2]]++
		}
	}
	assert.Equal(t, map[string]int{"CQ": 6, "CR": 6, "FQ": 1, "FR": 1}, counts, "%s", text)

	// Both tools show which answers were faults, in the version they
	// print (they print no extra).
	ldnsYAML, err := exec.Command(ldns, "-y", "-r", tapFile).CombinedOutput()
	require.NoError(t, err, "%s", ldnsYAML)
	assert.Contains(t, string(ldnsYAML), `version: "dnsfault phase=default rule=gone action=nxdomain"`)

	// dnstap-read: the responses' rcodes are the query log's.
	yaml, err := exec.Command(read, "-y", tapFile).CombinedOutput()
	require.NoError(t, err, "%s", yaml)
	assert.Contains(t, string(yaml), "dnsfault phase=default rule=broken action=servfail")
	var rcodes []string
	status := regexp.MustCompile(`(?m)^\s+status: (\S+)$`)
	for _, doc := range strings.Split(string(yaml), "\n---\n") {
		if strings.Contains(doc, "type: CLIENT_RESPONSE") {
			if m := status.FindAllStringSubmatch(doc, -1); len(m) > 0 {
				rcodes = append(rcodes, m[len(m)-1][1]) // the response's, after the query's
			}
		}
	}
	sort.Strings(rcodes)
	sort.Strings(logged)
	assert.Equal(t, logged, rcodes, "dnstap-read's rcodes against the query log's")

	// The extra of each response, read with golang-dnstap.
	in, err := dnstap.NewFrameStreamInputFromFilename(tapFile)
	require.NoError(t, err)
	frames := make(chan []byte, 64)
	go func() { in.ReadInto(frames); close(frames) }()
	var extras []string
	for frame := range frames {
		var d dnstap.Dnstap
		require.NoError(t, proto.Unmarshal(frame, &d))
		if d.GetMessage().GetType() == dnstap.Message_CLIENT_RESPONSE {
			extras = append(extras, string(d.GetExtra()))
		}
	}
	assert.Contains(t, extras, "dnsfault phase=default rule=gone action=nxdomain")
	assert.Contains(t, extras, "dnsfault phase=default rule=broken action=servfail")
	assert.Contains(t, extras, "dnsfault phase=default rule=- action=pass")
}
