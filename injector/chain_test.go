package injector_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// chainZone: www and vanity are CNAME chains, in the zone and out of it;
// x.dn is rewritten by a DNAME.
const chainZone = `
version: 1
name: chains
zones:
  - origin: shop.test.
    records:
      - "www 300 IN CNAME api"
      - "api 300 IN CNAME lb"
      - "lb 300 IN A 192.0.2.80"
      - "lb 300 IN A 192.0.2.81"
      - "vanity 300 IN CNAME cdn.up.test."
      - "dn 300 IN DNAME target.shop.test."
      - "x.target 300 IN A 192.0.2.33"
`

// chainUpstream answers cdn.up.test with a CNAME to edge.up.test and its
// address, as a recursive resolver would.
func chainUpstream(t *testing.T) *dnstest.Server {
	return dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		q := r.Question[0]
		if strings.EqualFold(q.Name, "cdn.up.test.") && q.Qtype == dns.TypeA {
			for _, s := range []string{"cdn.up.test. 120 IN CNAME edge.up.test.", "edge.up.test. 120 IN A 198.51.100.7"} {
				rr, _ := dns.NewRR(s)
				m.Answer = append(m.Answer, rr)
			}
		}
		w.WriteMsg(m)
	})
}

func TestFaultsFollowCNAMEChains(t *testing.T) {
	up := chainUpstream(t)
	var mu sync.Mutex
	var events []injector.Event
	srv := start(t, chainZone, injector.Config{Upstream: []string{up.Addr}, Observe: func(ev *injector.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, *ev)
	}})
	soa := "shop.test.\t60\tIN\tSOA\tns.dnsfault.invalid. hostmaster.dnsfault.invalid. 1 3600 600 86400 60"
	chain := []string{"www.shop.test.\t300\tIN\tCNAME\tapi.shop.test.", "api.shop.test.\t300\tIN\tCNAME\tlb.shop.test."}
	cases := []struct {
		rule, query string
		rcode       int
		answer, ns  []string
	}{
		// In the zone: the chain up to lb, then what the rule says.
		{"{action: nxdomain, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeNameError, chain, []string{soa}},
		{"{action: empty, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeSuccess, chain, []string{soa}},
		{`{action: answer, match: {names: [lb.shop.test]}, records: ["@ 30 IN A 203.0.113.5"]}`, "www.shop.test.", dns.RcodeSuccess,
			append(chain[:2:2], "lb.shop.test.\t30\tIN\tA\t203.0.113.5"), nil},
		{"{action: servfail, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeServerFailure, nil, nil},
		{"{action: refused, match: {names: [api.shop.test]}}", "www.shop.test.", dns.RcodeRefused, nil, nil},
		{"{action: notimp, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeNotImplemented, nil, nil},
		{"{action: formerr, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeFormatError, nil, nil},
		{"{action: pass, ttl: 5, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeSuccess,
			append(chain[:2:2], "lb.shop.test.\t5\tIN\tA\t192.0.2.80", "lb.shop.test.\t5\tIN\tA\t192.0.2.81"), nil},
		{"{action: pass, keep: 1, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeSuccess,
			append(chain[:2:2], "lb.shop.test.\t300\tIN\tA\t192.0.2.80"), nil},
		{"{action: nxdomain, via_cname: false, match: {names: [lb.shop.test]}}", "www.shop.test.", dns.RcodeSuccess,
			append(chain[:2:2], "lb.shop.test.\t300\tIN\tA\t192.0.2.80", "lb.shop.test.\t300\tIN\tA\t192.0.2.81"), nil},
		// A DNAME's rewritten name.
		{"{action: nxdomain, match: {names: [x.target.shop.test]}}", "x.dn.shop.test.", dns.RcodeNameError,
			[]string{"dn.shop.test.\t300\tIN\tDNAME\ttarget.shop.test.", "x.dn.shop.test.\t300\tIN\tCNAME\tx.target.shop.test."}, []string{soa}},
		// Out of the zone: the upstream's chain.
		{"{action: nxdomain, match: {names: [edge.up.test]}}", "cdn.up.test.", dns.RcodeNameError,
			[]string{"cdn.up.test.\t120\tIN\tCNAME\tedge.up.test."},
			[]string{"up.test.\t60\tIN\tSOA\tns.dnsfault.invalid. hostmaster.dnsfault.invalid. 1 3600 600 86400 60"}},
		{"{action: servfail, match: {names: [edge.up.test]}}", "cdn.up.test.", dns.RcodeServerFailure, nil, nil},
		// From the zone into the upstream's chain.
		{"{action: empty, match: {names: [edge.up.test]}}", "vanity.shop.test.", dns.RcodeSuccess,
			[]string{"vanity.shop.test.\t300\tIN\tCNAME\tcdn.up.test.", "cdn.up.test.\t120\tIN\tCNAME\tedge.up.test."},
			[]string{"up.test.\t60\tIN\tSOA\tns.dnsfault.invalid. hostmaster.dnsfault.invalid. 1 3600 600 86400 60"}},
	}
	for _, network := range []string{"udp", "tcp"} { // batched UDP answers without a waiting goroutine; TCP with one
		for i, tc := range cases {
			require.NoError(t, srv.AddRule(adHoc(t, "{name: r, "+strings.TrimPrefix(tc.rule, "{")), "test"), tc.rule)
			resp := ask(t, srv, network, tc.query, dns.TypeA)
			assert.Equal(t, dns.RcodeToString[tc.rcode], dns.RcodeToString[resp.Rcode], "%s %d: %s", network, i, tc.rule)
			if tc.answer != nil {
				assert.Equal(t, tc.answer, rrs(resp.Answer), "%s %d: %s", network, i, tc.rule)
				assert.Equal(t, tc.ns, nilIfEmpty(rrs(resp.Ns)), "%s %d: %s", network, i, tc.rule)
			}
			srv.ResetRules("test")
		}
	}

	// Drop, garbage and truncate take the whole answer too.
	for rule, check := range map[string]func(resp *dns.Msg, err error){
		"action: drop":     func(_ *dns.Msg, err error) { assert.True(t, isTimeout(err), "drop: %v", err) },
		"action: garbage":  func(_ *dns.Msg, err error) { assert.Error(t, err, "garbage") },
		"action: truncate": func(resp *dns.Msg, err error) { require.NoError(t, err); assert.True(t, resp.Truncated, "truncate") },
	} {
		require.NoError(t, srv.AddRule(adHoc(t, "name: whole\nmatch: {names: [lb.shop.test]}\n"+rule+"\n"), "test"))
		resp, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("www.shop.test.", dns.TypeA), 300*time.Millisecond)
		check(resp, err)
		srv.ResetRules("test")
	}

	// The hit is the rule's, and the events name the chain's name.
	require.NoError(t, srv.AddRule(adHoc(t, "name: counted\nmatch: {names: [lb.shop.test]}\naction: servfail\n"), "test"))
	ask(t, srv, "udp", "www.shop.test.", dns.TypeA)
	assert.Equal(t, uint64(1), srv.Status().AdHoc[0].Hits)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		last := events[len(events)-1]
		return last.Rule == "counted" && last.Via == "lb.shop.test." && last.Name == "www.shop.test."
	}, dnstest.Patience(5*time.Second), time.Millisecond)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// TestAForwardingServerResolvesAChainThatLeavesTheZones: a resolver hands
// the client the whole chain; asked without recursion, or with upstream
// none, dnsfault answers as the zone's authority: the CNAME alone.
func TestAForwardingServerResolvesAChainThatLeavesTheZones(t *testing.T) {
	up := chainUpstream(t)
	srv := start(t, chainZone, injector.Config{Upstream: []string{up.Addr}})
	for _, network := range []string{"udp", "tcp"} {
		resp := ask(t, srv, network, "vanity.shop.test.", dns.TypeA)
		assert.Equal(t, []string{"vanity.shop.test.\t300\tIN\tCNAME\tcdn.up.test.", "cdn.up.test.\t120\tIN\tCNAME\tedge.up.test.", "edge.up.test.\t120\tIN\tA\t198.51.100.7"}, rrs(resp.Answer), network)
		assert.False(t, resp.Authoritative, "%s: not the zone's data alone", network)
		assert.True(t, resp.RecursionAvailable, network)
	}
	q := dnstest.Query("vanity.shop.test.", dns.TypeA)
	q.RecursionDesired = false
	resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, timeout)
	require.NoError(t, err)
	assert.Equal(t, []string{"vanity.shop.test.\t300\tIN\tCNAME\tcdn.up.test."}, rrs(resp.Answer), "without RD: the authority's answer")
	assert.True(t, resp.Authoritative)
}
