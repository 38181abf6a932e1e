package injector_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

const modifiers = `
version: 1
seed: 42
upstream: none
zones:
  - origin: m.test.
    records:
      - "slow.m.test.  300 IN A 192.0.2.1"
      - "ttl.m.test.   300 IN A 192.0.2.2"
      - "ttl.m.test.   300 IN A 192.0.2.3"
      - "www.m.test.   300 IN CNAME pool.m.test."
      - "pool.m.test.  300 IN A 192.0.2.11"
      - "pool.m.test.  300 IN A 192.0.2.12"
      - "pool.m.test.  300 IN A 192.0.2.13"
      - "flaky.m.test. 300 IN A 192.0.2.20"
rules:
  - {name: slow, match: {names: [slow.m.test]}, action: pass, delay: 200ms}
  - {name: ttl, match: {names: [ttl.m.test]}, action: pass, ttl: 5}
  - {name: negative-ttl, match: {names: [gone.m.test]}, action: nxdomain, ttl: 3600}
  - {name: empty-ttl, match: {names: [nodata.m.test]}, action: empty, ttl: 1h}
  - {name: keep, match: {names: [pool.m.test, www.m.test]}, action: pass, keep: 2}
  - {name: flaky, match: {names: [flaky.m.test]}, action: servfail, probability: 0.3}
  - name: ede
    match: {names: [ede.m.test]}
    action: servfail
    ede: {code: 22, text: "replaying an outage"}
`

func TestDelayTakesAtLeastItsDelay(t *testing.T) {
	srv := start(t, modifiers, injector.Config{})
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			began := time.Now()
			resp := ask(t, srv, network, "slow.m.test.", dns.TypeA)
			assert.GreaterOrEqual(t, time.Since(began), 200*time.Millisecond)
			assert.Equal(t, []string{"slow.m.test.\t300\tIN\tA\t192.0.2.1"}, rrs(resp.Answer), "a delayed pass still answers")
		})
	}
}

func TestDelayDoesNotHoldOtherQueries(t *testing.T) {
	srv := start(t, `
version: 1
upstream: none
zones: [{origin: m.test., records: ["fast.m.test. 60 IN A 192.0.2.1"]}]
rules: [{match: {names: [slow.m.test]}, action: servfail, delay: 1h}]
`, injector.Config{})
	held := make(chan error, 1)
	go func() {
		_, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("slow.m.test.", dns.TypeA), 500*time.Millisecond)
		held <- err
	}()
	resp := ask(t, srv, "udp", "fast.m.test.", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
	assert.True(t, isTimeout(<-held), "the held query is still waiting")
}

func TestTTLRewritesEveryTTL(t *testing.T) {
	srv := start(t, modifiers, injector.Config{})
	resp := ask(t, srv, "udp", "ttl.m.test.", dns.TypeA)
	require.Len(t, resp.Answer, 2)
	for _, rr := range resp.Answer {
		assert.Equal(t, uint32(5), rr.Header().Ttl)
	}
}

func TestTTLSetsTheNegativeTTL(t *testing.T) {
	srv := start(t, modifiers, injector.Config{})
	for _, tc := range []struct {
		name  string
		rcode int
	}{
		{"gone.m.test.", dns.RcodeNameError},
		{"nodata.m.test.", dns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := ask(t, srv, "udp", tc.name, dns.TypeA)
			assert.Equal(t, tc.rcode, resp.Rcode)
			require.Len(t, resp.Ns, 1)
			soa := resp.Ns[0].(*dns.SOA)
			assert.Equal(t, uint32(3600), soa.Hdr.Ttl)
			assert.Equal(t, uint32(3600), soa.Minttl, "resolvers cache for min(TTL, MINIMUM)")
		})
	}
}

func TestKeepTrimsTheAnswer(t *testing.T) {
	srv := start(t, modifiers, injector.Config{})
	resp := ask(t, srv, "udp", "pool.m.test.", dns.TypeA)
	assert.Equal(t, []string{"pool.m.test.\t300\tIN\tA\t192.0.2.11", "pool.m.test.\t300\tIN\tA\t192.0.2.12"}, rrs(resp.Answer))
	resp = ask(t, srv, "udp", "www.m.test.", dns.TypeA)
	assert.Equal(t, []string{"www.m.test.\t300\tIN\tCNAME\tpool.m.test.", "pool.m.test.\t300\tIN\tA\t192.0.2.11", "pool.m.test.\t300\tIN\tA\t192.0.2.12"}, rrs(resp.Answer), "CNAMEs are kept, the addresses trimmed")
}

func TestEDEReachesEDNSClients(t *testing.T) {
	srv := start(t, modifiers, injector.Config{})
	q := dnstest.Query("ede.m.test.", dns.TypeA)
	q.SetEdns0(1232, false)
	resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, timeout)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeServerFailure, resp.Rcode)
	opt := resp.IsEdns0()
	require.NotNil(t, opt)
	require.Len(t, opt.Option, 1)
	ede := opt.Option[0].(*dns.EDNS0_EDE)
	assert.Equal(t, uint16(22), ede.InfoCode)
	assert.Equal(t, "replaying an outage", ede.ExtraText)

	plain := ask(t, srv, "udp", "ede.m.test.", dns.TypeA)
	assert.Nil(t, plain.IsEdns0(), "a client without EDNS gets no OPT, so no EDE")
}

// outcomes sends n queries one after another and returns, for each, whether
// it failed with SERVFAIL.
func outcomes(t *testing.T, srv *injector.Server, name string, n int) []bool {
	failed := make([]bool, n)
	for i := range failed {
		failed[i] = ask(t, srv, "udp", name, dns.TypeA).Rcode == dns.RcodeServerFailure
	}
	return failed
}

// countFailures sends n queries one after another and counts SERVFAILs.
func countFailures(t *testing.T, srv *injector.Server, name string, n int) int {
	count := 0
	for _, failed := range outcomes(t, srv, name, n) {
		if failed {
			count++
		}
	}
	return count
}

func TestProbabilityIsSeededAndNearItsShare(t *testing.T) {
	withSeed := func(seed int) string { return strings.Replace(modifiers, "seed: 42", fmt.Sprintf("seed: %d", seed), 1) }
	first := outcomes(t, start(t, withSeed(42), injector.Config{}), "flaky.m.test.", 1000)
	second := outcomes(t, start(t, withSeed(42), injector.Config{}), "flaky.m.test.", 1000)
	other := outcomes(t, start(t, withSeed(43), injector.Config{}), "flaky.m.test.", 1000)
	assert.Equal(t, first, second, "the same seed replays the same decisions, query by query")
	assert.NotEqual(t, first, other, "another seed makes other decisions")
	failed := 0
	for _, f := range first {
		if f {
			failed++
		}
	}
	assert.InDelta(t, 300, failed, 50, "probability 0.3 of 1000 queries")
	t.Logf("probability 0.3, seed 42: %d of 1000 queries failed", failed)
}

func TestProbabilityFallsThroughToTheNextRule(t *testing.T) {
	srv := start(t, `
version: 1
seed: 3
upstream: none
rules:
  - {name: half, match: {names: [x.test]}, action: servfail, probability: 0.5}
  - {name: rest, match: {names: [x.test]}, action: nxdomain}
`, injector.Config{})
	counts := map[int]int{}
	for i := 0; i < 200; i++ {
		counts[ask(t, srv, "udp", "x.test.", dns.TypeA).Rcode]++
	}
	assert.Equal(t, 200, counts[dns.RcodeServerFailure]+counts[dns.RcodeNameError])
	assert.InDelta(t, 100, counts[dns.RcodeServerFailure], 30)
}

func TestProbabilityRampFollowsThePhase(t *testing.T) {
	clock := dnstest.NewClock(time.Date(2025, 10, 20, 6, 48, 0, 0, time.UTC))
	srv := start(t, `
version: 1
seed: 11
upstream: none
phases:
  - name: draining
    duration: 100s
    rules:
      - {match: {names: [ddb.test]}, action: servfail, probability: {from: 1.0, to: 0.0}}
`, injector.Config{Now: clock.Now})
	for _, tc := range []struct {
		at       time.Duration
		min, max int
	}{
		{0, 100, 100},
		{50 * time.Second, 35, 65},
		{99 * time.Second, 0, 5},
	} {
		t.Run(fmt.Sprint(tc.at), func(t *testing.T) {
			clock.Set(time.Date(2025, 10, 20, 6, 48, 0, 0, time.UTC).Add(tc.at))
			got := countFailures(t, srv, "ddb.test.", 100)
			assert.GreaterOrEqual(t, got, tc.min)
			assert.LessOrEqual(t, got, tc.max)
		})
	}
	clock.Advance(time.Second) // the timed phase is over: faults are off
	assert.Equal(t, 0, countFailures(t, srv, "ddb.test.", 20))
}
