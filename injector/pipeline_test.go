package injector_test

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The pipeline in process: each query is handed to it with a recorder
// for a ResponseWriter, without sockets, over each transport.

const inProcess = `
version: 1
upstream: none
zones: [{origin: p.test., records: ["ok.p.test. 60 IN A 192.0.2.1"]}]
rules:
  - {match: {names: [nx.p.test]}, action: nxdomain}
  - {match: {names: [sf.p.test]}, action: servfail, ede: {code: 22, text: "injected"}}
  - {match: {names: [drop.p.test]}, action: drop}
  - {match: {names: [junk.p.test]}, action: garbage}
  - {match: {names: [tc.p.test]}, action: truncate}
  - {match: {names: [ok.p.test], clients: [127.0.0.2]}, action: refused}
  - {match: {names: [slow.p.test]}, action: empty, delay: 10ms}
`

// serveOnce hands q to srv from remote and returns the recorder once the
// answer is written (or at once, for a handler that wrote nothing).
func serveOnce(t *testing.T, srv *injector.Server, q *dns.Msg, remote net.Addr, transport scenarios.Transport) *dnstest.Recorder {
	t.Helper()
	w := dnstest.NewRecorder(remote)
	srv.Serve(w, q, transport)
	if w.Hijacked() {
		select {
		case <-w.Done():
		case <-time.After(dnstest.Patience(10 * time.Second)):
			t.Fatal("a hijacked query was never answered")
		}
	}
	return w
}

func TestPipelineInProcess(t *testing.T) {
	srv := newServer(t, inProcess, injector.Config{})
	udp := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	tcp := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	other := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 40000}
	cases := []struct {
		desc      string
		name      string
		remote    net.Addr
		transport scenarios.Transport
		check     func(t *testing.T, w *dnstest.Recorder)
	}{
		{"the zone answers", "ok.p.test.", udp, scenarios.UDP, rcode(dns.RcodeSuccess, 1)},
		{"nxdomain", "nx.p.test.", udp, scenarios.UDP, rcode(dns.RcodeNameError, 0)},
		{"servfail with its EDE", "sf.p.test.", tcp, scenarios.TCP, func(t *testing.T, w *dnstest.Recorder) {
			rcode(dns.RcodeServerFailure, 0)(t, w)
			ede := w.Msgs()[0].IsEdns0().Option[0].(*dns.EDNS0_EDE)
			assert.Equal(t, uint16(22), ede.InfoCode)
		}},
		{"drop writes nothing", "drop.p.test.", udp, scenarios.UDP, func(t *testing.T, w *dnstest.Recorder) {
			assert.Empty(t, w.Msgs())
			assert.Empty(t, w.Raw())
		}},
		{"garbage is raw bytes", "junk.p.test.", udp, scenarios.UDP, func(t *testing.T, w *dnstest.Recorder) {
			require.Len(t, w.Raw(), 1)
			assert.Error(t, new(dns.Msg).Unpack(w.Raw()[0]))
		}},
		{"truncate over UDP", "tc.p.test.", udp, scenarios.UDP, func(t *testing.T, w *dnstest.Recorder) {
			require.Len(t, w.Msgs(), 1)
			assert.True(t, w.Msgs()[0].Truncated)
		}},
		{"truncate over TCP answers normally", "tc.p.test.", tcp, scenarios.TCP, rcode(dns.RcodeNameError, 0)}, // the zone has no such name
		{"a client-scoped rule", "ok.p.test.", other, scenarios.UDP, rcode(dns.RcodeRefused, 0)},
		{"a delay over UDP answers later", "slow.p.test.", udp, scenarios.UDP, func(t *testing.T, w *dnstest.Recorder) {
			assert.True(t, w.Hijacked(), "waits on a timer, not in the handler")
			rcode(dns.RcodeSuccess, 0)(t, w)
		}},
		{"a delay over TCP answers in the handler", "slow.p.test.", tcp, scenarios.TCP, func(t *testing.T, w *dnstest.Recorder) {
			assert.False(t, w.Hijacked())
			rcode(dns.RcodeSuccess, 0)(t, w)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			q := dnstest.Query(tc.name, dns.TypeA)
			q.SetEdns0(1232, false)
			tc.check(t, serveOnce(t, srv, q, tc.remote, tc.transport))
		})
	}
}

// rcode checks that one message with rcode and n answers was written.
func rcode(code, n int) func(t *testing.T, w *dnstest.Recorder) {
	return func(t *testing.T, w *dnstest.Recorder) {
		t.Helper()
		require.Len(t, w.Msgs(), 1)
		m := w.Msgs()[0]
		assert.Equal(t, dns.RcodeToString[code], dns.RcodeToString[m.Rcode])
		assert.Len(t, m.Answer, n)
	}
}

func TestPipelineFollowsThePhases(t *testing.T) {
	clock := dnstest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, `
version: 1
upstream: none
zones: [{origin: p.test., records: ["a.p.test. 60 IN A 192.0.2.1"]}]
phases:
  - {name: healthy, duration: 1m}
  - {name: outage, duration: 1m, rules: [{match: {names: [a.p.test]}, action: servfail}]}
  - {name: recovery}
`, injector.Config{Now: clock.Now})
	want := []struct {
		at    time.Duration
		rcode int
	}{{0, dns.RcodeSuccess}, {59 * time.Second, dns.RcodeSuccess}, {time.Minute, dns.RcodeServerFailure}, {2 * time.Minute, dns.RcodeSuccess}}
	for _, w := range want {
		clock.Set(clock.Start().Add(w.at))
		rec := serveOnce(t, srv, dnstest.Query("a.p.test.", dns.TypeA), nil, scenarios.UDP)
		require.Len(t, rec.Msgs(), 1)
		assert.Equal(t, dns.RcodeToString[w.rcode], dns.RcodeToString[rec.Msgs()[0].Rcode], "at %v", w.at)
	}
}

// TestTTLsRunAsFastAsTheTimeline: at speed 60 every TTL served is divided
// by 60, rounded up and at least 1 (0 stays 0), a rule's ttl included and
// the negative TTL too; KeepTTLs serves them as written.
func TestTTLsRunAsFastAsTheTimeline(t *testing.T) {
	const text = `
version: 1
upstream: none
zones: [{origin: s.test., records: ["s.test. 300 IN SOA ns.s.test. h.s.test. 1 7200 900 1209600 300", "a.s.test. 300 IN A 192.0.2.1", "b.s.test. 59 IN A 192.0.2.2", "z.s.test. 0 IN A 192.0.2.3"]}]
rules: [{match: {names: [r.s.test]}, action: answer, records: ["@ 300 IN A 192.0.2.9"]}, {match: {names: [t.s.test]}, action: pass, ttl: 300}]
`
	ttl := func(srv *injector.Server, name string) (answer, negative uint32) {
		w := serveOnce(t, srv, dnstest.Query(name, dns.TypeA), nil, scenarios.UDP)
		require.Len(t, w.Msgs(), 1)
		m := w.Msgs()[0]
		if len(m.Answer) > 0 {
			return m.Answer[0].Header().Ttl, 0
		}
		require.Len(t, m.Ns, 1)
		soa := m.Ns[0].(*dns.SOA)
		assert.Equal(t, uint32(300), soa.Minttl, "MINIMUM as signed, never rewritten")
		return 0, min(soa.Hdr.Ttl, soa.Minttl) // RFC 2308
	}
	fast := newServer(t, text, injector.Config{Speed: 60})
	for _, tc := range []struct {
		name             string
		answer, negative uint32
	}{
		{"a.s.test.", 5, 0}, {"b.s.test.", 1, 0}, {"z.s.test.", 0, 0}, {"r.s.test.", 5, 0},
		{"nx.s.test.", 0, 5}, // the SOA's 300 s minimum
	} {
		answer, negative := ttl(fast, tc.name)
		assert.Equal(t, tc.answer, answer, tc.name)
		assert.Equal(t, tc.negative, negative, tc.name)
	}
	again, _ := ttl(fast, "a.s.test.")
	assert.Equal(t, uint32(5), again, "the zone's own record was not changed by the first answer")

	kept := newServer(t, text, injector.Config{Speed: 60, KeepTTLs: true})
	answer, _ := ttl(kept, "r.s.test.")
	assert.Equal(t, uint32(300), answer)
	assert.Equal(t, float64(1), kept.Status().TTLScale)
	assert.Equal(t, float64(60), fast.Status().TTLScale)
}

// TestProbesReachTheLiveFigures: a probe's latest result and tally are
// in Live, for the dashboard.
func TestProbesReachTheLiveFigures(t *testing.T) {
	srv := newServer(t, inProcess, injector.Config{})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv.Probed("http://svc/", true, at, 3*time.Millisecond, "")
	srv.Probed("http://svc/", false, at.Add(time.Second), time.Millisecond, "http 503")
	probes := srv.Live().Probes
	require.Len(t, probes, 1)
	assert.Equal(t, control.ProbeStatus{Probe: "http://svc/", OK: false, Time: at.Add(time.Second), LatencyMs: 1, Error: "http 503", Tries: 2, Failures: 1}, probes[0])
}
