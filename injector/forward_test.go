package injector_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

const forwarding = `
version: 1
zones: [{origin: local.test., records: ["a.local.test. 60 IN A 192.0.2.1"]}]
rules: [{match: {names: [broken.example.com]}, action: servfail}]
`

func TestForwardedAnswersEqualTheUpstreams(t *testing.T) {
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.7"))
	srv := start(t, forwarding, injector.Config{Upstream: []string{up.Addr}})
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			direct := ask(t, srvAt(up.Addr), network, "www.example.com.", dns.TypeA)
			via := ask(t, srv, network, "www.example.com.", dns.TypeA)
			assert.Equal(t, rrs(direct.Answer), rrs(via.Answer))
			assert.Equal(t, direct.Rcode, via.Rcode)
			got := up.Received()
			assert.Equal(t, network, got[len(got)-1].Transport, "a %s client is forwarded over %s", network, network)
		})
	}
	assert.Equal(t, dns.RcodeServerFailure, ask(t, srv, "udp", "broken.example.com.", dns.TypeA).Rcode, "rules apply to forwarded names")
	assert.Equal(t, []string{"a.local.test.\t60\tIN\tA\t192.0.2.1"}, rrs(ask(t, srv, "udp", "a.local.test.", dns.TypeA).Answer), "zones answer before upstream")
}

func TestForwardUsesAFreshIDAndKeepsTheClients(t *testing.T) {
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.7"))
	srv := start(t, forwarding, injector.Config{Upstream: []string{up.Addr}})
	q := dnstest.Query("www.example.com.", dns.TypeA)
	q.Id = 777
	resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, timeout)
	require.NoError(t, err)
	assert.Equal(t, uint16(777), resp.Id)
	got := up.Received()
	require.Len(t, got, 1)
	assert.NotEqual(t, uint16(777), got[0].Msg.Id, "the upstream sees our own random ID")
}

func TestTruncatedUpstreamIsRetriedOverTCP(t *testing.T) {
	full := dnstest.AnswerA("198.51.100.8")
	up := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			w.WriteMsg(m)
			return
		}
		full(w, r)
	})
	srv := start(t, forwarding, injector.Config{Upstream: []string{up.Addr}})
	resp := ask(t, srv, "udp", "big.example.com.", dns.TypeA)
	assert.Equal(t, []string{"big.example.com.\t120\tIN\tA\t198.51.100.8"}, rrs(resp.Answer))
	var transports []string
	for _, r := range up.Received() {
		transports = append(transports, r.Transport)
	}
	assert.Equal(t, []string{"udp", "tcp"}, transports)
}

func TestBadUpstreamsGiveServfailWithinTheTimeout(t *testing.T) {
	const upstreamTimeout = 300 * time.Millisecond
	cases := map[string]dns.HandlerFunc{
		"silent": dnstest.Silent,
		"wrong ID": func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Id = r.Id + 1
			w.WriteMsg(m)
		},
		"wrong question": func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Question[0].Name = "other.example.com."
			w.WriteMsg(m)
		},
		"garbage": func(w dns.ResponseWriter, r *dns.Msg) {
			w.Write([]byte{byte(r.Id >> 8), byte(r.Id), 0x81, 0x80, 0, 1})
		},
		"slow": func(w dns.ResponseWriter, r *dns.Msg) {
			time.Sleep(upstreamTimeout + 200*time.Millisecond) // the behaviour under test: an answer after the deadline
			dnstest.AnswerA("198.51.100.1")(w, r)
		},
		"truncated twice": func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true // over UDP, and again over TCP
			w.WriteMsg(m)
		},
		"resetting TCP": func(w dns.ResponseWriter, r *dns.Msg) {
			if tcp, ok := w.RemoteAddr().(*net.TCPAddr); ok && tcp != nil {
				w.Close() // over TCP: hang up instead of answering
				return
			}
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true // over UDP: send the client to TCP
			w.WriteMsg(m)
		},
	}
	for name, handler := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			up := dnstest.Start(t, handler)
			srv := start(t, forwarding, injector.Config{Upstream: []string{up.Addr}, UpstreamTimeout: upstreamTimeout})
			// While a client waits on the bad upstream, others are served.
			waiting := make(chan struct{})
			go func() {
				defer close(waiting)
				resp, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("a.local.test.", dns.TypeA), timeout)
				if assert.NoError(t, err) {
					assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
				}
			}()
			began := time.Now()
			q := dnstest.Query("www.example.com.", dns.TypeA)
			q.SetEdns0(1232, false)
			resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, 5*time.Second)
			waited := time.Since(began)
			require.NoError(t, err)
			assert.Equal(t, dns.RcodeServerFailure, resp.Rcode)
			assert.Less(t, waited, 5*time.Second)
			<-waiting
			require.Len(t, resp.IsEdns0().Option, 1, "the SERVFAIL says it came from upstream")
			assert.Equal(t, dns.ExtendedErrorCodeNoReachableAuthority, resp.IsEdns0().Option[0].(*dns.EDNS0_EDE).InfoCode)
			t.Logf("%s upstream: SERVFAIL after %v", name, waited.Round(time.Millisecond))
		})
	}
}

func TestNextUpstreamIsTriedWhenOneIsDown(t *testing.T) {
	down := freeUDPAddr(t)
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.9"))
	srv := start(t, forwarding, injector.Config{Upstream: []string{down, up.Addr}})
	resp := ask(t, srv, "tcp", "www.example.com.", dns.TypeA)
	assert.Equal(t, []string{"www.example.com.\t120\tIN\tA\t198.51.100.9"}, rrs(resp.Answer))
}

// freeUDPAddr returns a loopback address where nothing listens.
func freeUDPAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// srvAt lets ask query any address, such as a fake upstream directly.
type srvAt string

func (a srvAt) Addr() string { return string(a) }

// TestQueriesGoUpstreamWithRecursionDesired: a resolver whose stub zone
// points at dnsfault sends RD=0; dnsfault forwards as a recursive server
// does, RD set, so an upstream that refuses RD=0 still answers, and the
// client's answer keeps the client's RD, with RA.
func TestQueriesGoUpstreamWithRecursionDesired(t *testing.T) {
	up := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if !r.RecursionDesired {
			m := new(dns.Msg).SetRcode(r, dns.RcodeRefused) // as unbound does for RD=0 it will not serve from cache
			w.WriteMsg(m)
			return
		}
		dnstest.AnswerA("198.51.100.7")(w, r)
	})
	srv := start(t, forwarding, injector.Config{Upstream: []string{up.Addr}})
	for _, network := range []string{"udp", "tcp"} {
		q := dnstest.Query("www.example.com.", dns.TypeA)
		q.RecursionDesired = false // dig +norec
		resp, _, err := dnstest.Exchange(srv.Addr(), network, q, timeout)
		require.NoError(t, err)
		assert.Equal(t, dns.RcodeSuccess, resp.Rcode, network)
		assert.Equal(t, []string{"www.example.com.\t120\tIN\tA\t198.51.100.7"}, rrs(resp.Answer), network)
		assert.False(t, resp.RecursionDesired, "%s: the client's RD comes back", network)
		assert.True(t, resp.RecursionAvailable, network)
	}
	for _, got := range up.Received() {
		assert.True(t, got.Msg.RecursionDesired, "forwarded with RD set")
	}
}

// TestAStubZoneResolverInFrontWorks: a resolver with a stub zone pointing
// at dnsfault asks with RD=0. Healthy names still come from the upstream,
// which refuses RD=0, and the rule's name still fails (issue 26 item 2).
func TestAStubZoneResolverInFrontWorks(t *testing.T) {
	up := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if !r.RecursionDesired {
			w.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeRefused))
			return
		}
		dnstest.AnswerA("198.51.100.7")(w, r)
	})
	srv := start(t, forwarding, injector.Config{Upstream: []string{up.Addr}})
	host, port, _ := net.SplitHostPort(srv.Addr())
	resolver := startUnbound(t, "", fmt.Sprintf("stub-zone:\n  name: \"example.com\"\n  stub-addr: %s@%s\n", host, port))

	healthy := ask(t, srvAt(resolver), "udp", "www.example.com.", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, healthy.Rcode)
	assert.Equal(t, []string{"www.example.com.\t120\tIN\tA\t198.51.100.7"}, rrs(healthy.Answer))
	broken := ask(t, srvAt(resolver), "udp", "broken.example.com.", dns.TypeA)
	assert.Equal(t, dns.RcodeServerFailure, broken.Rcode, "the rule's name fails as the scenario says")
}

// shopAuthority is an upstream serving shop.test., as a resolver passes
// on its authority's answers: its SOA for the apex, and in the authority
// section of every negative answer below it.
func shopAuthority(w dns.ResponseWriter, r *dns.Msg) {
	const soa = "shop.test. 900 IN SOA ns1.shop.test. hostmaster.shop.test. 2026120801 7200 900 1209600 120"
	m := new(dns.Msg).SetReply(r)
	rr, _ := dns.NewRR(soa)
	switch name := strings.ToLower(r.Question[0].Name); {
	case name == "shop.test." && r.Question[0].Qtype == dns.TypeSOA:
		m.Answer = []dns.RR{rr}
	case name == "www.shop.test." && r.Question[0].Qtype == dns.TypeA:
		a, _ := dns.NewRR("www.shop.test. 300 IN A 192.0.2.80")
		m.Answer = []dns.RR{a}
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{rr}
	}
	w.WriteMsg(m)
}

// TestAFaultOutsideTheZonesCarriesTheRealSOA: an nxdomain or empty fault
// on a forwarded name carries the SOA its real zone has, learnt from the
// upstream (issue 26 item 3), asked once for many names under one parent.
func TestAFaultOutsideTheZonesCarriesTheRealSOA(t *testing.T) {
	up := dnstest.Start(t, shopAuthority)
	srv := start(t, `version: 1
rules:
  - {match: {names: ["*.shop.test"], types: [A]}, action: nxdomain}
  - {match: {names: [www.shop.test], types: [AAAA]}, action: empty}
`, injector.Config{Upstream: []string{up.Addr}})
	for _, name := range []string{"db.shop.test.", "x1.shop.test.", "x2.shop.test."} {
		resp := ask(t, srv, "udp", name, dns.TypeA)
		assert.Equal(t, dns.RcodeNameError, resp.Rcode, name)
		require.Len(t, resp.Ns, 1, name)
		soa := resp.Ns[0].(*dns.SOA)
		assert.Equal(t, "shop.test.", soa.Hdr.Name, name)
		assert.Equal(t, "ns1.shop.test.", soa.Ns, name)
		assert.Equal(t, uint32(2026120801), soa.Serial, name)
		assert.Equal(t, uint32(120), soa.Hdr.Ttl, "%s: the negative TTL, min(TTL, MINIMUM)", name)
	}
	nodata := ask(t, srv, "tcp", "www.shop.test.", dns.TypeAAAA)
	assert.Equal(t, dns.RcodeSuccess, nodata.Rcode)
	require.Len(t, nodata.Ns, 1)
	assert.Equal(t, "shop.test.", nodata.Ns[0].Header().Name)

	asked := 0
	for _, got := range up.Received() {
		if got.Msg.Question[0].Qtype == dns.TypeSOA {
			asked++
		}
	}
	assert.Equal(t, 1, asked, "one question for the names under shop.test.")
}

// TestWithoutAnUpstreamTheSOAIsMadeUp: with no upstream to ask, or one
// that does not answer, a fault outside the zones carries the made-up
// SOA the docs describe.
func TestWithoutAnUpstreamTheSOAIsMadeUp(t *testing.T) {
	silent := dnstest.Start(t, dnstest.Silent)
	for _, upstream := range []string{"none", silent.Addr} {
		srv := start(t, `version: 1
rules: [{match: {names: [db.shop.test]}, action: nxdomain}]
`, injector.Config{Upstream: []string{upstream}, UpstreamTimeout: 50 * time.Millisecond})
		resp := ask(t, srv, "udp", "db.shop.test.", dns.TypeA)
		assert.Equal(t, dns.RcodeNameError, resp.Rcode, upstream)
		require.Len(t, resp.Ns, 1, upstream)
		soa := resp.Ns[0].(*dns.SOA)
		assert.Equal(t, "shop.test.", soa.Hdr.Name, upstream)
		assert.Equal(t, "ns.dnsfault.invalid.", soa.Ns, upstream)
	}
}

// TestAFloodOfParentsCostsTheUpstreamFewQuestions: faults on random names
// under many parents ask the upstream for at most 50 SOAs a second, by
// the server's clock (here stopped: the burst of 50); the rest carry the
// made-up SOA, never a connection to the upstream per query.
func TestAFloodOfParentsCostsTheUpstreamFewQuestions(t *testing.T) {
	up := dnstest.Start(t, shopAuthority)
	clock := dnstest.NewClock(epoch)
	srv := start(t, `version: 1
rules: [{match: {names: ["*.shop.test"], types: [A]}, action: nxdomain}]
`, injector.Config{Upstream: []string{up.Addr}, Now: clock.Now})
	const n = 300
	for i := range n {
		resp := ask(t, srv, "udp", fmt.Sprintf("x.p%d.shop.test.", i), dns.TypeA)
		require.Equal(t, dns.RcodeNameError, resp.Rcode)
		require.Len(t, resp.Ns, 1, "every answer carries a SOA, real or made up")
	}
	asked := 0
	for _, got := range up.Received() {
		if got.Msg.Question[0].Qtype == dns.TypeSOA {
			asked++
		}
	}
	assert.Equal(t, 50, asked, "the SOA questions are bounded, not one per query")
}
