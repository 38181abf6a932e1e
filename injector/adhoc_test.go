package injector_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

func adHoc(t *testing.T, text string) scenarios.AdHocRule {
	t.Helper()
	r, err := scenarios.ParseAdHocRule("rule", []byte(text), nil)
	require.NoError(t, err)
	return r
}

// TestAdHocRulesComeFirstAndEnd: an ad-hoc rule is served at once, before
// the phase's rules, also after the timeline ends; it ends when removed,
// when its time runs out (by the server's clock), and on reset.
func TestAdHocRulesComeFirstAndEnd(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	var logs syncBuffer
	srv := start(t, outage, injector.Config{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	clock.Set(epoch.Add(time.Minute)) // the outage: a-fails takes a.t.test
	require.Equal(t, "SERVFAIL", rcodeOf(t, srv))

	require.NoError(t, srv.AddRule(adHoc(t, "name: gone\nmatch: {names: [a.t.test]}\naction: nxdomain\n"), "tester"))
	assert.Equal(t, "NXDOMAIN", rcodeOf(t, srv), "the ad-hoc rule comes before the phase's")
	assert.ErrorIs(t, srv.AddRule(adHoc(t, "name: gone\naction: refused\n"), "tester"), injector.ErrRuleExists)
	st := srv.Status()
	require.Len(t, st.AdHoc, 1)
	assert.Equal(t, uint64(1), st.AdHoc[0].Hits)
	assert.Equal(t, "tester", st.AdHoc[0].By)
	assert.Contains(t, st.AdHoc[0].Summary, "gone: nxdomain of a.t.test")

	require.NoError(t, srv.RemoveRule("gone", "tester"))
	assert.Equal(t, "SERVFAIL", rcodeOf(t, srv), "removed: the phase's rule again")
	assert.ErrorIs(t, srv.RemoveRule("gone", "tester"), injector.ErrNoSuchRule)

	clock.Set(epoch.Add(10 * time.Minute)) // the timeline has ended
	require.NoError(t, srv.AddRule(adHoc(t, "name: brief\nmatch: {names: [a.t.test]}\naction: refused\nfor: 1h\n"), "tester"))
	assert.Equal(t, "REFUSED", rcodeOf(t, srv), "ad-hoc rules serve after the timeline")
	clock.Advance(time.Hour)
	assert.Equal(t, "NOERROR", rcodeOf(t, srv), "its hour is up")
	assert.Empty(t, srv.Status().AdHoc)

	require.NoError(t, srv.AddRule(adHoc(t, "name: again\naction: refused\n"), "tester"))
	srv.Abort("tester")
	assert.Equal(t, "NOERROR", rcodeOf(t, srv), "abort holds ad-hoc rules too")
	require.NoError(t, srv.Resume("tester"))
	assert.Equal(t, "REFUSED", rcodeOf(t, srv))
	assert.Equal(t, 1, srv.ResetRules("tester"))
	assert.Equal(t, "NOERROR", rcodeOf(t, srv), "reset: the scenario as loaded")

	for _, line := range []string{`msg="ad-hoc rule added" rule=gone`, `msg="ad-hoc rule ended" rule=gone why=removed hits=1 by=tester`, `msg="reset: every ad-hoc rule removed`} {
		assert.Contains(t, logs.String(), line)
	}
}

// TestAdHocRulesReachTheSinks: the query log and observers name the
// ad-hoc rule, and the prepacked path leaves its queries to it.
func TestAdHocRulesReachTheSinks(t *testing.T) {
	var log syncBuffer
	var mu sync.Mutex
	var seen []injector.Event
	srv := start(t, outage, injector.Config{QueryLog: &log, Observe: func(ev *injector.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, *ev)
	}})
	for range 3 { // the answer is prepacked after the first
		require.Equal(t, dns.RcodeSuccess, ask(t, srv, "udp", "a.t.test.", dns.TypeA).Rcode)
	}
	require.NoError(t, srv.AddRule(adHoc(t, "name: slow-fail\nmatch: {names: [a.t.test], types: [A]}\naction: servfail\n"), "tester"))
	require.Equal(t, dns.RcodeServerFailure, ask(t, srv, "udp", "a.t.test.", dns.TypeA).Rcode)
	require.Eventually(t, func() bool { return bytes.Count(log.Bytes(), []byte("\n")) == 4 }, dnstest.Patience(5*time.Second), time.Millisecond)
	lines := bytes.Split(bytes.TrimSpace(log.Bytes()), []byte("\n"))
	var last map[string]any
	require.NoError(t, json.Unmarshal(lines[3], &last))
	assert.Equal(t, "slow-fail", last["rule"])
	assert.Equal(t, true, last["ad_hoc"])
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 4)
	assert.True(t, seen[3].AdHoc)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }
