package udpbatch_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dnsfault/dnsfault/injector/udpbatch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts a batch server with h on 127.0.0.1 and returns its address.
func serve(t *testing.T, h dns.HandlerFunc, workers int) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	require.True(t, udpbatch.CanServe(conn))
	s, err := udpbatch.Serve(conn, h, workers)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return conn.LocalAddr().String()
}

// echoA answers every query with an A record naming the query's ID in
// its last two octets, so a mixed-up answer shows.
func echoA(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg).SetReply(r)
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A: net.IPv4(10, 0, byte(r.Id>>8), byte(r.Id))}}
	w.WriteMsg(m)
}

// send writes queries for name with the given IDs on conn, all before
// reading any answer, so the server finds many waiting at once.
func send(t *testing.T, conn net.Conn, name string, ids []uint16) {
	t.Helper()
	require.NoError(t, sendQueries(conn, name, ids))
}

func sendQueries(conn net.Conn, name string, ids []uint16) error {
	for _, id := range ids {
		q := new(dns.Msg).SetQuestion(name, dns.TypeA)
		q.Id = id
		b, err := q.Pack()
		if err != nil {
			return err
		}
		if _, err := conn.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// read reads one answer from conn, failing the test when none comes.
func read(t *testing.T, conn net.Conn) *dns.Msg {
	t.Helper()
	m, err := readAnswer(conn)
	require.NoError(t, err)
	return m
}

// readAnswer reads one answer from conn, waiting up to 10 s: long enough
// for a busy machine, and only ever waited out when the test fails.
func readAnswer(conn net.Conn) (*dns.Msg, error) {
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	b := make([]byte, 4096)
	n, err := conn.Read(b)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	return m, m.Unpack(b[:n])
}

func TestEveryPipelinedQueryGetsItsOwnAnswer(t *testing.T) {
	addr := serve(t, echoA, 2)
	const clients = 8
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			// Not require: this is not the test's goroutine.
			conn, err := net.Dial("udp", addr)
			if !assert.NoError(t, err) {
				return
			}
			defer conn.Close()
			// Bursts of 10 from 8 clients fill batches yet stay within
			// the default socket buffers (80 small datagrams), so none is
			// lost and every query must be answered.
			for burst := range 30 {
				ids := make([]uint16, 10)
				for i := range ids {
					ids[i] = uint16(c<<12 | burst*10 + i)
				}
				if !assert.NoError(t, sendQueries(conn, "pipelined.test.", ids)) {
					return
				}
				seen := map[uint16]bool{}
				for range ids {
					m, err := readAnswer(conn)
					if !assert.NoError(t, err) || !assert.Len(t, m.Answer, 1) {
						return
					}
					a := m.Answer[0].(*dns.A).A.To4()
					assert.Equal(t, m.Id, uint16(a[2])<<8|uint16(a[3]), "the answer carries another query's record")
					assert.False(t, seen[m.Id], "answered twice")
					seen[m.Id] = true
				}
				assert.Len(t, seen, len(ids))
			}
		})
	}
	wg.Wait()
}

func TestDetachedQueryDoesNotHoldUpTheOthers(t *testing.T) {
	release := make(chan struct{})
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Question[0].Name == "slow.test." {
			w.(udpbatch.Detacher).Detach()
			<-release
		}
		echoA(w, r)
	}, 1)
	var once sync.Once
	releaseSlow := func() { once.Do(func() { close(release) }) }
	defer releaseSlow() // before Close, which waits for the handler
	conn, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer conn.Close()

	// With one worker, a slow query that did not detach would stop every
	// query after it.
	send(t, conn, "slow.test.", []uint16{1})
	send(t, conn, "fast.test.", []uint16{2, 3})
	assert.Equal(t, uint16(2), read(t, conn).Id)
	assert.Equal(t, uint16(3), read(t, conn).Id)
	releaseSlow()
	assert.Equal(t, uint16(1), read(t, conn).Id, "the detached query is answered once it is done")
}

func TestHijackedQueryIsAnsweredLater(t *testing.T) {
	later := make(chan func())
	addr := serve(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Question[0].Name == "later.test." {
			w.Hijack()
			later <- func() { echoA(w, r) }
			return
		}
		echoA(w, r)
	}, 1)
	conn, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer conn.Close()

	send(t, conn, "later.test.", []uint16{1})
	answer := <-later
	send(t, conn, "now.test.", []uint16{2})
	assert.Equal(t, uint16(2), read(t, conn).Id)
	answer()
	assert.Equal(t, uint16(1), read(t, conn).Id)
}

func TestMalformedDatagramsAreAnsweredAsMiekgDoes(t *testing.T) {
	addr := serve(t, echoA, 1)
	conn, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer conn.Close()
	probe := func() {
		t.Helper()
		send(t, conn, "probe.test.", []uint16{99})
		assert.Equal(t, uint16(99), read(t, conn).Id, "the first datagram back answers the probe: nothing came before it")
	}

	// Nothing comes back for a runt or for a response.
	_, err = conn.Write([]byte{1, 2, 3})
	require.NoError(t, err)
	probe()
	resp := new(dns.Msg).SetQuestion("x.test.", dns.TypeA)
	resp.Response = true
	b, _ := resp.Pack()
	_, err = conn.Write(b)
	require.NoError(t, err)
	probe()

	// Two questions: FORMERR. A cut-short question: FORMERR.
	two := new(dns.Msg).SetQuestion("x.test.", dns.TypeA)
	two.Id = 7
	two.Question = append(two.Question, two.Question[0])
	b, _ = two.Pack()
	_, err = conn.Write(b)
	require.NoError(t, err)
	m := read(t, conn)
	assert.Equal(t, dns.RcodeFormatError, m.Rcode)
	assert.Equal(t, uint16(7), m.Id)
	one := new(dns.Msg).SetQuestion("x.test.", dns.TypeA)
	one.Id = 8
	b, _ = one.Pack()
	_, err = conn.Write(b[:len(b)-3])
	require.NoError(t, err)
	m = read(t, conn)
	assert.Equal(t, dns.RcodeFormatError, m.Rcode)
	assert.Equal(t, uint16(8), m.Id)

	// An UPDATE: NOTIMP, with the opcode kept.
	upd := new(dns.Msg).SetUpdate("test.")
	upd.Id = 9
	b, _ = upd.Pack()
	_, err = conn.Write(b)
	require.NoError(t, err)
	m = read(t, conn)
	assert.Equal(t, dns.RcodeNotImplemented, m.Rcode)
	assert.Equal(t, dns.OpcodeUpdate, m.Opcode)
	assert.True(t, m.Response)
	probe()
}

// TestWildcardSocketsAnswerFromTheAddressAsked: on a socket bound to
// every address, each answer leaves from the address its query came to,
// in the batch and later (a hijacked query), over IPv4 and dual-stack
// IPv6: a client's connected socket takes answers from there only.
func TestWildcardSocketsAnswerFromTheAddressAsked(t *testing.T) {
	h := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		// The address the handler sees is the one asked, in a TXT.
		m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{w.LocalAddr().String()}}}
		if r.Question[0].Name == "late.test." {
			w.Hijack()
			go w.WriteMsg(m)
			return
		}
		w.WriteMsg(m)
	}
	for _, c := range []struct {
		network, bind string
		ask           []string
	}{
		{"udp4", "0.0.0.0", []string{"127.0.0.2", "127.0.0.3"}},
		{"udp", "::", []string{"::1", "127.0.0.4"}},
	} {
		conn, err := net.ListenUDP(c.network, &net.UDPAddr{IP: net.ParseIP(c.bind)})
		if err != nil {
			t.Logf("no %s socket on %s: %v", c.network, c.bind, err)
			continue
		}
		require.True(t, udpbatch.CanServe(conn))
		s, err := udpbatch.Serve(conn, dns.HandlerFunc(h), 1)
		require.NoError(t, err)
		port := conn.LocalAddr().(*net.UDPAddr).Port
		for _, host := range c.ask {
			addr := net.JoinHostPort(host, fmt.Sprint(port))
			client, err := net.Dial("udp", addr)
			if err != nil && host == "::1" {
				continue // no IPv6 loopback here
			}
			require.NoError(t, err)
			for _, name := range []string{"now.test.", "late.test."} {
				require.NoError(t, sendQueries(client, name, []uint16{7}))
				m := read(t, client)
				require.Len(t, m.Answer, 1, "%s %s", addr, name)
				local := m.Answer[0].(*dns.TXT).Txt[0]
				assert.Equal(t, addr, local, "%s %s: the handler sees the address asked", addr, name)
			}
			client.Close()
		}
		s.Close()
		conn.Close()
	}
}

func TestIPv6Loopback(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	s, err := udpbatch.Serve(conn, dns.HandlerFunc(echoA), 1)
	require.NoError(t, err)
	defer s.Close()
	c, err := net.Dial("udp", conn.LocalAddr().String())
	require.NoError(t, err)
	defer c.Close()
	send(t, c, "v6.test.", []uint16{6})
	assert.Equal(t, uint16(6), read(t, c).Id)
}
