package tcpserve_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/tcpserve"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var limits = tcpserve.Limits{MaxConns: 100, PerClient: 10, InFlight: 64, Idle: 5 * time.Second}

// handler answers NOERROR; "slow." after 300 ms; "big." with 5,000 A
// records, more than a TCP message holds.
func handler(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		w.WriteMsg(new(dns.Msg).SetRcodeFormatError(r))
		return
	}
	m := new(dns.Msg).SetReply(r)
	switch r.Question[0].Name {
	case "slow.":
		time.Sleep(300 * time.Millisecond)
	case "big.":
		for i := range 5000 {
			rr, _ := dns.NewRR(fmt.Sprintf("big. 60 IN A 10.%d.%d.%d", i>>16, (i>>8)&255, i&255))
			m.Answer = append(m.Answer, rr)
		}
	}
	w.WriteMsg(m)
}

func serve(t *testing.T, l tcpserve.Limits) (*tcpserve.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := tcpserve.Serve(ln, dns.HandlerFunc(handler), l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, ln.Addr().String()
}

func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: dnstest.Patience(5 * time.Second)}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func writeQuery(t *testing.T, c net.Conn, id uint16, name string) {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, dns.TypeA)
	q.Id = id
	b, err := q.Pack()
	require.NoError(t, err)
	_, err = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
	require.NoError(t, err)
}

func readAnswer(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	var n [2]byte
	_, err := io.ReadFull(c, n[:])
	require.NoError(t, err)
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(b))
	return m
}

func TestAThousandPipelinedQueriesGetAThousandAnswers(t *testing.T) {
	_, addr := serve(t, limits)
	c := dialFrom(t, "", addr)
	go func() { // written while the answers are read, as a pipelining client does
		for i := range 1000 {
			q := new(dns.Msg).SetQuestion(fmt.Sprintf("q%d.", i), dns.TypeA)
			q.Id = uint16(i)
			b, _ := q.Pack()
			if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)); err != nil {
				return
			}
		}
	}()
	seen := map[uint16]bool{}
	for range 1000 {
		m := readAnswer(t, c)
		assert.False(t, seen[m.Id], "answered twice")
		seen[m.Id] = true
	}
	assert.Len(t, seen, 1000)
}

func TestADelayedQueryDoesNotHoldUpTheOnesBehindIt(t *testing.T) {
	_, addr := serve(t, limits)
	c := dialFrom(t, "", addr)
	writeQuery(t, c, 1, "slow.")
	writeQuery(t, c, 2, "fast.")
	assert.Equal(t, uint16(2), readAnswer(t, c).Id, "the query behind answers first")
	assert.Equal(t, uint16(1), readAnswer(t, c).Id, "and the delayed one after")
}

func TestAnAnswerTooLargeIsTruncatedNotDropped(t *testing.T) {
	_, addr := serve(t, limits)
	c := dialFrom(t, "", addr)
	writeQuery(t, c, 7, "big.")
	m := readAnswer(t, c)
	assert.True(t, m.Truncated, "TC says records are missing")
	assert.NotEmpty(t, m.Answer, "with as many as fit")
	assert.Less(t, len(m.Answer), 5000)
}

func TestOneClientCannotTakeEveryConnection(t *testing.T) {
	s, addr := serve(t, limits)
	for range 1000 { // stalled: connected, sending nothing
		dialFrom(t, "127.0.0.2", addr)
	}
	require.Eventually(t, func() bool { return s.Open() <= limits.PerClient }, dnstest.Patience(10*time.Second), 10*time.Millisecond,
		"the server keeps only the client's share of its connections")
	c := dialFrom(t, "127.0.0.1", addr)
	writeQuery(t, c, 3, "other.")
	assert.Equal(t, uint16(3), readAnswer(t, c).Id, "another client is answered")
}

func TestAtTheCapTheIdlestConnectionGivesWay(t *testing.T) {
	l := limits
	l.MaxConns, l.PerClient = 4, 100
	s, addr := serve(t, l)
	for range 4 {
		dialFrom(t, "", addr)
	}
	require.Eventually(t, func() bool { return s.Open() == 4 }, dnstest.Patience(10*time.Second), 10*time.Millisecond)
	c := dialFrom(t, "", addr)
	writeQuery(t, c, 5, "new.")
	assert.Equal(t, uint16(5), readAnswer(t, c).Id)
	assert.Equal(t, 4, s.Open(), "an idle one was closed for it")
}

func TestMalformedQueriesGetFormerrAndGarbageEndsTheConnection(t *testing.T) {
	_, addr := serve(t, limits)
	c := dialFrom(t, "", addr)
	// A header that claims a question, and no question: FORMERR.
	bad := []byte{0, 12, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	_, err := c.Write(bad)
	require.NoError(t, err)
	m := readAnswer(t, c)
	assert.Equal(t, dns.RcodeFormatError, m.Rcode)
	assert.Equal(t, uint16(0x1234), m.Id)

	writeQuery(t, c, 9, "after.")
	assert.Equal(t, uint16(9), readAnswer(t, c).Id, "the connection goes on")

	_, err = c.Write([]byte{0, 3, 'x', 'y', 'z'}) // not DNS at all
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	assert.True(t, err == io.EOF || strings.Contains(fmt.Sprint(err), "reset"), "closed: %v", err)
}

func TestAnIdleConnectionIsClosed(t *testing.T) {
	l := limits
	l.Idle = 100 * time.Millisecond
	_, addr := serve(t, l)
	c := dialFrom(t, "", addr)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the server closed it")
}

// TestAHalfClosedConnectionGetsEveryAnswer: a client that writes its
// queries and shuts its side down still reads every answer, the slow one
// included.
func TestAHalfClosedConnectionGetsEveryAnswer(t *testing.T) {
	_, addr := serve(t, limits)
	c := dialFrom(t, "", addr)
	writeQuery(t, c, 1, "slow.")
	writeQuery(t, c, 2, "fast.")
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	ids := map[uint16]bool{readAnswer(t, c).Id: true, readAnswer(t, c).Id: true}
	assert.Equal(t, map[uint16]bool{1: true, 2: true}, ids)
}
