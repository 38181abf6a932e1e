package injector

import (
	"context"
	"net"

	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

const prepackedScenario = `
version: 1
upstream: none
zones:
  - origin: p.test.
    records:
      - "www.p.test. 60 IN A 192.0.2.1"
      - "www.p.test. 60 IN A 192.0.2.2"
      - "alias.p.test. 30 IN CNAME www.p.test."
      - "*.wild.p.test. 20 IN TXT \"wild\""
phases:
  - {name: calm, duration: 1h}
  - name: storm
    duration: 1h
    rules: [{match: {names: [www.p.test]}, action: nxdomain}]
`

// startInternal serves text on 127.0.0.1:0 with a clock the test steps.
func startInternal(t *testing.T, text string, clock *dnstest.Clock, observe ...func(*Event)) *Server {
	t.Helper()
	sc, err := scenarios.Parse("p.yaml", []byte(text), scenarios.Options{})
	require.NoError(t, err)
	cfg := Config{Listen: "127.0.0.1:0", Now: clock.Now}
	if len(observe) > 0 {
		cfg.Observe = observe[0]
	}
	srv, err := New(cfg, sc)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// rawExchange sends q over UDP and returns the answer's bytes.
func rawExchange(t *testing.T, addr string, q *dns.Msg) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer conn.Close()
	b, err := q.Pack()
	require.NoError(t, err)
	_, err = conn.Write(b)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	require.NoError(t, err)
	return buf[:n]
}

func TestPrepackedAnswersAreTheFullPathsByteForByte(t *testing.T) {
	clock := dnstest.NewClock(time.Now())
	srv := startInternal(t, prepackedScenario, clock)
	type variant struct {
		name     string
		qtype    uint16
		edns, do bool
		rd, cd   bool
	}
	var variants []variant
	for _, name := range []string{"www.p.test.", "WwW.P.test.", "alias.p.test.", "x.wild.p.test.", "missing.p.test.", "elsewhere.test."} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT} {
			variants = append(variants,
				variant{name: name, qtype: qtype, rd: true},
				variant{name: name, qtype: qtype, edns: true, do: true, cd: true},
				variant{name: name, qtype: qtype, edns: true})
		}
	}
	for _, v := range variants {
		q := new(dns.Msg).SetQuestion(v.name, v.qtype)
		q.RecursionDesired, q.CheckingDisabled = v.rd, v.cd
		if v.edns {
			q.SetEdns0(1232, v.do)
		}
		q.Id = 1
		full := rawExchange(t, srv.Addr(), q)
		hits := srv.pipe.obs.prepackedHits.Load()
		q.Id = 2
		fast := rawExchange(t, srv.Addr(), q)
		full[1] = 2 // the only byte that may differ: the ID
		assert.Equal(t, full, fast, "%+v", v)
		m := new(dns.Msg)
		require.NoError(t, m.Unpack(fast))
		assert.Equal(t, v.rd, m.RecursionDesired, "%+v", v)
		assert.Equal(t, v.cd, m.CheckingDisabled, "%+v", v)
		if opt := m.IsEdns0(); assert.Equal(t, v.edns, opt != nil, "%+v", v) && opt != nil {
			assert.Equal(t, v.do, opt.Do(), "%+v", v)
		}
		if v.name != "elsewhere.test." { // outside the zones: REFUSED, not kept
			assert.Equal(t, hits+1, srv.pipe.obs.prepackedHits.Load(), "%+v was answered prepacked", v)
		}
	}

	// Another case of a name already kept: the same answer, with this case.
	q := new(dns.Msg).SetQuestion("WWW.p.TEST.", dns.TypeA)
	hits := srv.pipe.obs.prepackedHits.Load()
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(rawExchange(t, srv.Addr(), q)))
	assert.Equal(t, hits+1, srv.pipe.obs.prepackedHits.Load())
	assert.Equal(t, "WWW.p.TEST.", m.Question[0].Name, "the question comes back as it was asked (0x20)")
	assert.Len(t, m.Answer, 2)
}

func TestARuleTakesPrecedenceOverPrepackedAnswers(t *testing.T) {
	clock := dnstest.NewClock(time.Now())
	srv := startInternal(t, prepackedScenario, clock)
	q := new(dns.Msg).SetQuestion("www.p.test.", dns.TypeA)
	for range 2 {
		m := new(dns.Msg)
		require.NoError(t, m.Unpack(rawExchange(t, srv.Addr(), q)))
		assert.Equal(t, dns.RcodeSuccess, m.Rcode)
	}
	require.NotZero(t, srv.pipe.obs.prepackedHits.Load())

	clock.Advance(time.Hour + time.Second) // the storm: a rule takes www
	hits := srv.pipe.obs.prepackedHits.Load()
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(rawExchange(t, srv.Addr(), q)))
	assert.Equal(t, dns.RcodeNameError, m.Rcode)
	assert.Equal(t, hits, srv.pipe.obs.prepackedHits.Load())

	srv.Abort("test") // faults off: the normal answer again
	m = new(dns.Msg)
	require.NoError(t, m.Unpack(rawExchange(t, srv.Addr(), q)))
	assert.Equal(t, dns.RcodeSuccess, m.Rcode)
	assert.Equal(t, hits+1, srv.pipe.obs.prepackedHits.Load())
}

// TestPrepackedAnswersAreCounted: an answer sent from its bytes still
// counts in the metrics, under the phase in force when it was sent, and on
// the dashboard, like one sent the full way.
func TestPrepackedAnswersAreCounted(t *testing.T) {
	clock := dnstest.NewClock(time.Now())
	srv := startInternal(t, prepackedScenario, clock)
	q := new(dns.Msg).SetQuestion("x.wild.p.test.", dns.TypeTXT) // no phase has a rule for it
	for range 5 {
		rawExchange(t, srv.Addr(), q)
	}
	clock.Advance(time.Hour + time.Second) // the storm
	for range 3 {
		rawExchange(t, srv.Addr(), q)
	}
	require.Equal(t, uint64(7), srv.pipe.obs.prepackedHits.Load(), "all but the first should be sent from their bytes")

	series := func(phase string) float64 {
		return testutil.ToFloat64(srv.pipe.obs.metrics.queries.WithLabelValues(phase, "", "pass", "NOERROR", "TXT", "udp"))
	}
	assert.Equal(t, 5.0, series("calm"))
	assert.Equal(t, 3.0, series("storm"))
	assert.Equal(t, int64(8), srv.pipe.obs.live.nameCounter("x.wild.p.test.").Load())
}

// TestAChainsRuleTakesPrecedenceOverPrepackedAnswers: alias is a CNAME to
// www; in the storm a rule takes www, so alias's prepacked answer gives
// way and the rule decides at www.
func TestAChainsRuleTakesPrecedenceOverPrepackedAnswers(t *testing.T) {
	clock := dnstest.NewClock(time.Now())
	srv := startInternal(t, prepackedScenario, clock)
	q := new(dns.Msg).SetQuestion("alias.p.test.", dns.TypeA)
	for range 2 {
		rawExchange(t, srv.Addr(), q)
	}
	require.Equal(t, uint64(1), srv.pipe.obs.prepackedHits.Load())
	clock.Advance(time.Hour + time.Second) // the storm
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(rawExchange(t, srv.Addr(), q)))
	assert.Equal(t, dns.RcodeNameError, m.Rcode, "nxdomain at www, reached from alias")
	require.Len(t, m.Answer, 1)
	assert.Equal(t, "alias.p.test.\t30\tIN\tCNAME\twww.p.test.", m.Answer[0].String())
	assert.Equal(t, uint64(1), srv.pipe.obs.prepackedHits.Load())
}

func TestOddQueriesTakeTheFullPath(t *testing.T) {
	for _, b := range [][]byte{
		{},
		// A response, an UPDATE, two questions.
		{0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1},
		{0, 1, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1},
		{0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1},
		// A compression pointer in the name; a label running past the end.
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1},
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 'a', 0, 0, 1, 0, 1},
		// Trailing bytes; EDNS version 1; class CH; type ANY.
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1, 9},
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1, 0, 0, 41, 4, 0, 0, 1, 0, 0, 0, 0},
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 3},
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 255, 0, 1},
	} {
		var buf [263]byte
		_, ok := readQuestion(b, buf[:])
		assert.False(t, ok, "% x", b)
	}
	var buf [263]byte
	q, ok := readQuestion([]byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'A', 0, 0, 1, 0, 1, 0, 0, 41, 4, 0, 0, 0, 0x80, 0, 0, 0}, buf[:])
	require.True(t, ok)
	assert.Equal(t, []byte{1, 'a', 0, 0, 1, 0, 1, 1, 0, keyEDNS | keyDO}, q.key)
	assert.Equal(t, 1024, q.size)
	assert.Equal(t, 3, q.nameLen)
}

// TestPrepackedAnswersAreObserved: Config.Observe, which run's report and
// --record read, sees an answer sent from its bytes as it sees one sent
// the full way, with its answer section and TTL.
func TestPrepackedAnswersAreObserved(t *testing.T) {
	events := make(chan Event, 10)
	srv := startInternal(t, prepackedScenario, dnstest.NewClock(time.Now()), func(ev *Event) { events <- *ev })
	q := new(dns.Msg).SetQuestion("www.p.test.", dns.TypeA)
	for range 3 {
		rawExchange(t, srv.Addr(), q)
	}
	require.Equal(t, uint64(2), srv.pipe.obs.prepackedHits.Load(), "the second and third are prepacked")
	for i := range 3 {
		ev := <-events // written before the answer is sent back, so already here
		assert.Equal(t, "www.p.test.", ev.Name, "query %d", i)
		assert.Equal(t, "calm", ev.Phase)
		assert.Equal(t, SentMessage, ev.Sent)
		assert.Equal(t, int64(60), ev.TTL)
		assert.Len(t, ev.Answer, 2)
	}
}
