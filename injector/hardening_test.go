package injector_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

const zoneOnly = `
version: 1
upstream: none
zones: [{origin: h.test., records: ["a.h.test. 60 IN A 192.0.2.1", "a.h.test. 60 IN TXT \"t\""]}]
rules: [{name: held, match: {names: [held.h.test]}, action: servfail, delay: 1h}]
`

func TestClientsOutsideTheAllowListAreRefused(t *testing.T) {
	srv := start(t, zoneOnly, injector.Config{Allow: mustPrefixes(t, "127.0.0.2/32")})
	resp, _, err := dnstest.ExchangeFrom("127.0.0.1", srv.Addr(), "udp", dnstest.Query("a.h.test.", dns.TypeA), timeout)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, resp.Rcode, "127.0.0.1 is not allowed")
	assert.Empty(t, resp.Answer)
	resp, _, err = dnstest.ExchangeFrom("127.0.0.2", srv.Addr(), "tcp", dnstest.Query("a.h.test.", dns.TypeA), timeout)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "127.0.0.2 is")
}

func TestForwardedQueriesAreRateLimitedPerClient(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.1"))
	srv := start(t, zoneOnly, injector.Config{Upstream: []string{up.Addr}, ForwardRate: 5, Now: clock.Now})
	count := func(from, name string, n int) (answered, refused int) {
		for range n {
			resp, _, err := dnstest.ExchangeFrom(from, srv.Addr(), "udp", dnstest.Query(name, dns.TypeA), timeout)
			require.NoError(t, err)
			switch resp.Rcode {
			case dns.RcodeSuccess:
				answered++
			case dns.RcodeRefused:
				refused++
			}
		}
		return answered, refused
	}
	answered, refused := count("127.0.0.1", "www.example.com.", 30)
	assert.Equal(t, []int{10, 20}, []int{answered, refused}, "a burst of twice the rate, then REFUSED")
	answered, _ = count("127.0.0.2", "www.example.com.", 3)
	assert.Equal(t, 3, answered, "another client has its own budget")
	answered, _ = count("127.0.0.1", "a.h.test.", 20)
	assert.Equal(t, 20, answered, "zone answers cost nothing upstream and are not limited")
	clock.Advance(time.Second)
	answered, refused = count("127.0.0.1", "www.example.com.", 10)
	assert.Equal(t, []int{5, 5}, []int{answered, refused}, "a second later, five more")
	assert.Len(t, up.Received(), 18, "refused queries never reached upstream")
}

func TestANYGetsAMinimalAnswer(t *testing.T) {
	up := dnstest.Start(t, dnstest.AnswerA("198.51.100.1"))
	srv := start(t, zoneOnly, injector.Config{Upstream: []string{up.Addr}})
	resp := ask(t, srv, "udp", "www.example.com.", dns.TypeANY)
	assert.Equal(t, []string{"www.example.com.\t3600\tIN\tHINFO\t\"RFC8482\" \"\""}, rrs(resp.Answer), "RFC 8482")
	assert.True(t, resp.RecursionAvailable, "a server that forwards says it recurses")
	assert.Empty(t, up.Received(), "ANY is never forwarded")
	resp = ask(t, srv, "udp", "a.h.test.", dns.TypeANY)
	require.Len(t, resp.Answer, 1, "in a zone, one RRset, as an authority answers (RFC 8482)")
	assert.Equal(t, dns.TypeA, resp.Answer[0].Header().Rrtype)
	assert.True(t, resp.Authoritative)
}

func TestHeldQueriesAreCapped(t *testing.T) {
	srv := start(t, zoneOnly, injector.Config{MaxHeld: 3})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("held.h.test.", dns.TypeA), 10*time.Second)
		}()
	}
	require.Eventually(t, func() bool { return srv.Status().Held == 3 }, dnstest.Patience(5*time.Second), time.Millisecond)
	_, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("held.h.test.", dns.TypeA), 200*time.Millisecond)
	assert.True(t, isTimeout(err), "the fourth is dropped at once, not held")
	assert.Equal(t, int64(3), srv.Status().Held)
	assert.Equal(t, dns.RcodeSuccess, ask(t, srv, "udp", "a.h.test.", dns.TypeA).Rcode, "other queries are still answered")
	ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx), "shutdown answers the held queries")
	wg.Wait()
}

func TestPipelinedTCPQueriesAreAllAnswered(t *testing.T) {
	srv := start(t, zoneOnly, injector.Config{})
	conn, err := net.Dial("tcp", srv.Addr())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(timeout)))
	co := &dns.Conn{Conn: conn}
	want := map[uint16]uint16{}
	for i, qtype := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeAAAA} {
		q := dnstest.Query("a.h.test.", qtype)
		q.Id = uint16(100 + i)
		want[q.Id] = qtype
		require.NoError(t, co.WriteMsg(q))
	}
	got := map[uint16]uint16{}
	for range want {
		resp, err := co.ReadMsg()
		require.NoError(t, err)
		got[resp.Id] = resp.Question[0].Qtype
	}
	assert.Equal(t, want, got, "every pipelined query answered, each to its own question")
}

func TestIdleTCPConnectionsDoNotStarveUDP(t *testing.T) {
	srv := start(t, zoneOnly, injector.Config{})
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range 500 {
		c, err := net.Dial("tcp", srv.Addr())
		require.NoError(t, err)
		conns = append(conns, c)
	}
	var slowest time.Duration
	for range 100 {
		began := time.Now()
		resp := ask(t, srv, "udp", "a.h.test.", dns.TypeA)
		require.Equal(t, dns.RcodeSuccess, resp.Rcode)
		slowest = max(slowest, time.Since(began))
	}
	t.Logf("with 500 idle TCP connections open, 100 UDP queries answered; the slowest took %v", slowest)
}

func TestIdleTCPConnectionsAreClosed(t *testing.T) {
	srv := start(t, zoneOnly, injector.Config{TCPIdleTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", srv.Addr())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = conn.Read(make([]byte, 1))
	assert.Error(t, err, "the server closed the idle connection")
	assert.False(t, isTimeout(err), "closed by the server, not by our deadline: %v", err)
}

// TestSignedAnswersHaveABudgetPerPrefix: once a client /24 has spent its
// --signing-budget, its UDP queries with DO for a signed zone get an
// empty TC answer (every second one) or none, before anything is signed;
// TCP, the DO-less and another /24 are not limited; a second later the
// budget is back.
func TestSignedAnswersHaveABudgetPerPrefix(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, "version: 1\nupstream: none\nzones: [{origin: s.test., dnssec: true, records: [\"www 60 IN A 192.0.2.1\"]}]\nrules: [{match: {names: [\"*.gone.s.test\"]}, action: nxdomain}]\n",
		injector.Config{SigningBudget: time.Millisecond, Now: clock.Now}) // 200 µs at once: a white lie or two
	ask := func(from, network, name string, do bool) (*dns.Msg, error) {
		m := dnstest.Query(name, dns.TypeA)
		if do {
			m.SetEdns0(1232, true)
		}
		resp, _, err := dnstest.ExchangeFrom(from, srv.Addr(), network, m, 300*time.Millisecond)
		return resp, err
	}
	full, truncated, lost := 0, 0, 0
	for i := range 20 {
		resp, err := ask("127.0.0.1", "udp", fmt.Sprintf("n%d.gone.s.test.", i), true) // a white lie each, signed on the spot
		switch {
		case err != nil:
			lost++
		case resp.Truncated:
			truncated++
			assert.Empty(t, resp.Ns, "nothing signed for it")
		default:
			full++
			assert.Equal(t, 0, truncated+lost, "no full answer once the budget is spent")
		}
	}
	assert.Positive(t, full, "the budget pays for the first")
	assert.InDelta(t, truncated, lost, 1, "TC and nothing in turn")
	assert.Greater(t, truncated+lost, 10)
	resp, err := ask("127.0.0.2", "udp", "www.s.test.", true)
	assert.True(t, err != nil || resp.Truncated, "127.0.0.2 is in the same /24")
	resp, err = ask("127.0.0.1", "tcp", "www.s.test.", true)
	require.NoError(t, err)
	assert.False(t, resp.Truncated, "TCP is bounded by its connections instead")
	assert.NotEmpty(t, resp.Answer)
	resp, err = ask("127.0.0.1", "udp", "www.s.test.", false)
	require.NoError(t, err)
	assert.NotEmpty(t, resp.Answer, "without DO nothing is signed")
	resp, err = ask("127.0.1.1", "udp", "www.s.test.", true)
	require.NoError(t, err)
	assert.NotEmpty(t, resp.Answer, "another /24 has its own budget")
	clock.Advance(time.Second)
	resp, err = ask("127.0.0.1", "udp", "www.s.test.", true)
	require.NoError(t, err)
	assert.NotEmpty(t, resp.Answer, "a second later")
}
