package injector_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// actions has one rule per action on its own name, over a zone holding a
// record for each of those names, so a fault is told apart from the normal
// answer.
const actions = `
version: 1
seed: 7
upstream: none
zones:
  - origin: t.test.
    records:
      - "ok.t.test.       300 IN A 192.0.2.1"
      - "pass.t.test.     300 IN A 192.0.2.2"
      - "nx.t.test.       300 IN A 192.0.2.3"
      - "fail.t.test.     300 IN A 192.0.2.4"
      - "empty.t.test.    300 IN A 192.0.2.5"
      - "trunc.t.test.    300 IN A 192.0.2.6"
      - "target.t.test.   300 IN A 192.0.2.7"
      - "pool.t.test.     300 IN A 192.0.2.11"
      - "pool.t.test.     300 IN A 192.0.2.12"
      - "pool.t.test.     300 IN A 192.0.2.13"
      - "pool.t.test.     300 IN A 192.0.2.14"
rules:
  - {name: pass, match: {names: [pass.t.test]}, action: pass}
  - {name: nxdomain, match: {names: [nx.t.test]}, action: nxdomain}
  - {name: servfail, match: {names: [fail.t.test]}, action: servfail}
  - {name: refused, match: {names: [refused.t.test]}, action: refused}
  - {name: notimp, match: {names: [notimp.t.test]}, action: notimp}
  - {name: formerr, match: {names: [formerr.t.test]}, action: formerr}
  - {name: empty, match: {names: [empty.t.test]}, action: empty}
  - {name: drop, match: {names: [drop.t.test]}, action: drop}
  - name: answer
    match: {names: [wrong.t.test]}
    action: answer
    records: ["@ 30 IN A 203.0.113.9", "@ 30 IN A 203.0.113.10"]
  - name: cname-elsewhere
    match: {names: [moved.t.test]}
    action: answer
    records: ["@ 30 IN CNAME target.t.test."]
  - {name: truncate, match: {names: [trunc.t.test]}, action: truncate}
  - {name: garbage, match: {names: [garbage.t.test]}, action: garbage}
`

func TestRcodeActions(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	soa := "t.test.\t60\tIN\tSOA\tns.dnsfault.invalid. hostmaster.dnsfault.invalid. 1 3600 600 86400 60"
	cases := []struct {
		name      string
		rcode     int
		answer    []string
		authority []string
	}{
		{"ok.t.test.", dns.RcodeSuccess, []string{"ok.t.test.\t300\tIN\tA\t192.0.2.1"}, []string{}},
		{"pass.t.test.", dns.RcodeSuccess, []string{"pass.t.test.\t300\tIN\tA\t192.0.2.2"}, []string{}},
		{"nx.t.test.", dns.RcodeNameError, []string{}, []string{soa}},
		{"fail.t.test.", dns.RcodeServerFailure, []string{}, []string{}},
		{"refused.t.test.", dns.RcodeRefused, []string{}, []string{}},
		{"notimp.t.test.", dns.RcodeNotImplemented, []string{}, []string{}},
		{"formerr.t.test.", dns.RcodeFormatError, []string{}, []string{}},
		{"empty.t.test.", dns.RcodeSuccess, []string{}, []string{soa}},
		{"wrong.t.test.", dns.RcodeSuccess, []string{"wrong.t.test.\t30\tIN\tA\t203.0.113.9", "wrong.t.test.\t30\tIN\tA\t203.0.113.10"}, []string{}},
		{"moved.t.test.", dns.RcodeSuccess, []string{"moved.t.test.\t30\tIN\tCNAME\ttarget.t.test.", "target.t.test.\t300\tIN\tA\t192.0.2.7"}, []string{}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				resp := ask(t, srv, network, tc.name, dns.TypeA)
				assert.Equal(t, dns.RcodeToString[tc.rcode], dns.RcodeToString[resp.Rcode])
				assert.Equal(t, tc.answer, rrs(resp.Answer))
				assert.Equal(t, tc.authority, rrs(resp.Ns))
				assert.True(t, resp.Response)
				assert.False(t, resp.RecursionAvailable, "upstream none: an authority alone, which does not recurse")
				assert.False(t, resp.Truncated)
			})
		}
	}
}

func TestAnswerOfOtherTypeIsNoData(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	resp := ask(t, srv, "udp", "wrong.t.test.", dns.TypeAAAA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
	assert.Empty(t, resp.Answer)
	require.Len(t, resp.Ns, 1)
	assert.Equal(t, dns.TypeSOA, resp.Ns[0].Header().Rrtype)
}

func TestDropMakesTheClientTimeOut(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			_, _, err := dnstest.Exchange(srv.Addr(), network, dnstest.Query("drop.t.test.", dns.TypeA), 300*time.Millisecond)
			assert.True(t, isTimeout(err), "want a timeout, got %v", err)
		})
	}
}

func TestTruncate(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	t.Run("udp sets TC with no records", func(t *testing.T) {
		resp := ask(t, srv, "udp", "trunc.t.test.", dns.TypeA)
		assert.True(t, resp.Truncated)
		assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
		assert.Empty(t, resp.Answer)
		assert.Empty(t, resp.Ns)
	})
	t.Run("tcp answers in full", func(t *testing.T) {
		resp := ask(t, srv, "tcp", "trunc.t.test.", dns.TypeA)
		assert.False(t, resp.Truncated)
		assert.Equal(t, []string{"trunc.t.test.\t300\tIN\tA\t192.0.2.6"}, rrs(resp.Answer))
	})
}

func TestGarbageCannotBeUnpacked(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			conn, err := net.DialTimeout(network, srv.Addr(), timeout)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(timeout)))
			co := &dns.Conn{Conn: conn}
			query := dnstest.Query("garbage.t.test.", dns.TypeA)
			require.NoError(t, co.WriteMsg(query))
			buf := make([]byte, dns.MaxMsgSize)
			n, err := co.Read(buf)
			require.NoError(t, err)
			require.GreaterOrEqual(t, n, 2)
			assert.Equal(t, query.Id, uint16(buf[0])<<8|uint16(buf[1]), "garbage keeps the client's ID so it is taken as the reply")
			require.GreaterOrEqual(t, n, 4)
			assert.Zero(t, buf[3]&0x80, "no RA from an authority alone (upstream: none)")
			assert.Error(t, new(dns.Msg).Unpack(buf[:n]))
		})
	}
}

func TestClientFieldsAreKept(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			q := dnstest.Query("Ok.T.TeSt.", dns.TypeA)
			q.Id = 4242
			q.CheckingDisabled = true
			resp, _, err := dnstest.Exchange(srv.Addr(), network, q, timeout)
			require.NoError(t, err)
			assert.Equal(t, uint16(4242), resp.Id)
			assert.Equal(t, "Ok.T.TeSt.", resp.Question[0].Name, "question casing is kept (0x20)")
			assert.True(t, resp.RecursionDesired)
			assert.True(t, resp.CheckingDisabled)
			assert.True(t, resp.Authoritative, "zone answers are authoritative")
			assert.Nil(t, resp.IsEdns0(), "no OPT for a client that sent none")
		})
	}
}

func TestEDNS(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	t.Run("our own OPT, DO echoed", func(t *testing.T) {
		q := dnstest.Query("ok.t.test.", dns.TypeA)
		q.SetEdns0(4096, true)
		resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, timeout)
		require.NoError(t, err)
		opt := resp.IsEdns0()
		require.NotNil(t, opt)
		assert.Equal(t, uint16(1232), opt.UDPSize())
		assert.True(t, opt.Do())
	})
	t.Run("version 1 gets BADVERS", func(t *testing.T) {
		q := dnstest.Query("ok.t.test.", dns.TypeA)
		q.SetEdns0(4096, false)
		q.IsEdns0().SetVersion(1)
		resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, timeout)
		require.NoError(t, err)
		assert.Equal(t, dns.RcodeBadVers, resp.Rcode)
	})
}

func TestMalformedQueriesNeverCrash(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	conn, err := net.Dial("udp", srv.Addr())
	require.NoError(t, err)
	defer conn.Close()
	for _, packet := range [][]byte{
		{0x12}, // shorter than a header
		{0x12, 0x34, 0x01, 0, 0, 5, 0, 0, 0, 0, 0, 0},                         // five questions promised, none sent
		{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}, // a pointer to itself
	} {
		_, err := conn.Write(packet)
		require.NoError(t, err)
	}
	// The server still answers after them.
	resp := ask(t, srv, "udp", "ok.t.test.", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
}

func TestTwoQuestionsGetFormErr(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	q := dnstest.Query("ok.t.test.", dns.TypeA)
	q.Question = append(q.Question, dns.Question{Name: "pass.t.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, timeout)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeFormatError, resp.Rcode)
}

func TestUpstreamNoneRefusesNamesOutsideTheZones(t *testing.T) {
	srv := start(t, actions, injector.Config{})
	resp := ask(t, srv, "udp", "example.com.", dns.TypeA)
	assert.Equal(t, dns.RcodeRefused, resp.Rcode)
}

// isTimeout tells a client timeout from other errors.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
