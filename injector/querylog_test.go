package injector_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// TestQueryLogHasALinePerQuery: --log-queries writes one JSON line per
// query with the fields the README lists, prepacked answers included.
func TestQueryLogHasALinePerQuery(t *testing.T) {
	var log bytes.Buffer
	answered := make(chan struct{}, 10) // a query's line is written before it is observed
	srv := start(t, `
version: 1
upstream: none
zones:
  - origin: log.test.
    records: ["www.log.test. 60 IN A 192.0.2.1"]
phases:
  - name: outage
    duration: 1h
    rules:
      - {name: gone, match: {names: [gone.log.test]}, action: nxdomain}
      - {name: silent, match: {names: [quiet.log.test]}, action: drop}
`, injector.Config{QueryLog: &log, Observe: func(*injector.Event) { answered <- struct{}{} }})

	// A query's line is written after its answer goes out: wait for each
	// before the next, so the lines come in the order of the queries.
	observed := func(what string) {
		t.Helper()
		select {
		case <-answered:
		case <-time.After(dnstest.Patience(10 * time.Second)):
			t.Fatalf("the server did not observe %s", what)
		}
	}
	for range 3 { // the same query thrice: the second and third are prepacked
		assert.Equal(t, dns.RcodeSuccess, ask(t, srv, "udp", "www.log.test.", dns.TypeA).Rcode)
		observed("www.log.test")
	}
	assert.Equal(t, dns.RcodeNameError, ask(t, srv, "tcp", "gone.log.test.", dns.TypeAAAA).Rcode)
	observed("gone.log.test")
	_, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("quiet.log.test.", dns.TypeA), 200*time.Millisecond)
	require.Error(t, err, "dropped")
	observed("the drop") // logged when the server reads it, which a busy machine may do late
	require.NoError(t, srv.Shutdown(context.Background()))

	type line struct {
		Time      time.Time `json:"time"`
		Client    string    `json:"client"`
		Name      string    `json:"name"`
		Type      string    `json:"type"`
		Transport string    `json:"transport"`
		Phase     string    `json:"phase"`
		Rule      string    `json:"rule"`
		Action    string    `json:"action"`
		Rcode     string    `json:"rcode"`
		LatencyMs *float64  `json:"latency_ms"`
	}
	var lines []line
	sc := bufio.NewScanner(&log)
	for sc.Scan() {
		var l line
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "%s", sc.Text())
		assert.False(t, l.Time.IsZero())
		assert.Equal(t, "127.0.0.1", l.Client)
		assert.Equal(t, "outage", l.Phase)
		require.NotNil(t, l.LatencyMs)
		l.Time, l.Client, l.Phase, l.LatencyMs = time.Time{}, "", "", nil
		lines = append(lines, l)
	}
	normal := line{Name: "www.log.test.", Type: "A", Transport: "udp", Action: "pass", Rcode: "NOERROR"}
	assert.Equal(t, []line{normal, normal, normal,
		{Name: "gone.log.test.", Type: "AAAA", Transport: "tcp", Rule: "gone", Action: "nxdomain", Rcode: "NXDOMAIN"},
		{Name: "quiet.log.test.", Type: "A", Transport: "udp", Rule: "silent", Action: "drop", Rcode: "none"},
	}, lines)
}
