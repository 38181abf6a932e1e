//go:build soak

package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// soakScenario mixes every action, drops and delays included.
const soakScenario = `version: 1
name: soak
seed: 1
upstream: none
zones:
  - origin: soak.test.
    records:
      - "ok.soak.test. 60 IN A 192.0.2.1"
      - "pool.soak.test. 60 IN A 192.0.2.2"
      - "pool.soak.test. 60 IN A 192.0.2.3"
      - "*.wild.soak.test. 60 IN A 192.0.2.4"
rules:
  - {name: nx, match: {names: [nx.soak.test]}, action: nxdomain, ttl: 5}
  - {name: sf, match: {names: [sf.soak.test]}, action: servfail, ede: 22}
  - {name: ref, match: {names: [ref.soak.test]}, action: refused}
  - {name: ni, match: {names: [ni.soak.test]}, action: notimp}
  - {name: fe, match: {names: [fe.soak.test]}, action: formerr}
  - {name: empty, match: {names: [empty.soak.test]}, action: empty}
  - {name: drop, match: {names: [drop.soak.test]}, action: drop}
  - {name: slow, match: {names: [slow.soak.test]}, action: pass, delay: 50ms, jitter: 20ms}
  - {name: wrong, match: {names: [wrong.soak.test]}, action: answer, records: ["@ 5 IN A 203.0.113.1"]}
  - {name: tc, match: {names: [tc.soak.test]}, action: truncate}
  - {name: junk, match: {names: [junk.soak.test]}, action: garbage}
  - {name: flaky, match: {names: ["*.wild.soak.test"]}, action: servfail, probability: 0.3}
  - {name: keep, match: {names: [pool.soak.test]}, action: pass, keep: 1}
`

// figures are the process figures the soak compares.
type figures struct{ goroutines, fds, rss float64 }

func scrape(t *testing.T, addr string) figures {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mf, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	value := func(name string) float64 { return mf[name].Metric[0].GetGauge().GetValue() }
	return figures{value("go_goroutines"), value("process_open_fds"), value("process_resident_memory_bytes")}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// TestSoak runs dnsperf at a fixed rate for a bounded time against every
// action, then checks: no server error, goroutines and open files back to
// their baseline, resident memory grown by under 10%. `make soak` runs it;
// SOAK_SECONDS and SOAK_QPS set the load.
func TestSoak(t *testing.T) {
	dnsperf := requireTool(t, "dnsperf", "dnsperf")
	seconds, qps := envOr("SOAK_SECONDS", "60"), envOr("SOAK_QPS", "2000")
	dir := t.TempDir()
	queries := filepath.Join(dir, "queries")
	var q strings.Builder
	for _, n := range []string{"ok", "pool", "a.wild", "b.wild", "nx", "sf", "ref", "ni", "fe", "empty", "drop", "slow", "wrong", "tc", "junk"} {
		fmt.Fprintf(&q, "%s.soak.test A\n", n)
	}
	require.NoError(t, os.WriteFile(queries, []byte(q.String()), 0o644))
	s := serve(t, "-s", scenarioFile(t, soakScenario), "--rate-limit", "0")

	load := func(secs string) string {
		out, err := exec.Command(dnsperf, "-s", s.host, "-p", s.port, "-d", queries, "-l", secs, "-Q", qps, "-q", "5000", "-t", "1").CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	settle := func() figures {
		client := control.NewClient(s.control, "")
		require.Eventually(t, func() bool {
			st, err := client.Status(context.Background())
			return err == nil && st.InFlight == 0
		}, dnstest.Patience(10*time.Second), 50*time.Millisecond)
		return scrape(t, s.control)
	}
	load("10") // warm up: the heap and the goroutine pools reach their working size
	before := settle()
	out := load(seconds)
	after := settle()

	sent, completed, lost := dnsperfFigure(out, "Queries sent"), dnsperfFigure(out, "Queries completed"), dnsperfFigure(out, "Queries lost")
	st, err := control.NewClient(s.control, "").Status(context.Background())
	require.NoError(t, err)
	report := fmt.Sprintf("soak: %ss at %s q/s: %d queries sent, %d completed, %d lost (the drop rule's 1/15 share, never answered);"+
		" goroutines %.0f -> %.0f, open files %.0f -> %.0f, RSS %.1f MiB -> %.1f MiB (%+.1f%%), panics %d",
		seconds, qps, sent, completed, lost, before.goroutines, after.goroutines, before.fds, after.fds,
		before.rss/(1<<20), after.rss/(1<<20), 100*(after.rss-before.rss)/before.rss, st.Panics)
	t.Log(report)
	fmt.Println(report)

	assert.Zero(t, st.Panics)
	assert.InDelta(t, float64(sent)/15, float64(lost), float64(sent)/100, "only the dropped queries are lost")
	assert.NotContains(t, s.log(), "level=ERROR")
	assert.LessOrEqual(t, after.goroutines, before.goroutines+2, "goroutines back to their baseline")
	assert.LessOrEqual(t, after.fds, before.fds+2, "open files back to their baseline")
	assert.Less(t, after.rss, before.rss*1.10, "resident memory grew by under 10%")
}

var dnsperfLine = regexp.MustCompile(`(?m)^\s*([A-Za-z ]+):\s+(\d+)`)

func dnsperfFigure(out, name string) int {
	for _, m := range dnsperfLine.FindAllStringSubmatch(out, -1) {
		if strings.TrimSpace(m[1]) == name {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	return -1
}
