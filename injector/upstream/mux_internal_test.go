package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// socketsOf is what mux holds for addr, and the sockets it is letting go.
func socketsOf(m *Mux, addr string) (open []*muxSocket, retiring int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sockets[addr] {
		if s != nil {
			open = append(open, s)
		}
	}
	return open, len(m.retiring)
}

func closed(s *muxSocket) bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// TestRetainClosesTheSocketsOfOtherUpstreams: after a reload to another
// upstream, the old one's sockets close, and the new one's keep serving.
func TestRetainClosesTheSocketsOfOtherUpstreams(t *testing.T) {
	answer := dnstest.AnswerA("192.0.2.1")
	old, kept := dnstest.Start(t, answer), dnstest.Start(t, answer)
	mux := NewMux()
	defer mux.Close()
	for _, addr := range []string{old.Addr, kept.Addr} {
		_, err := mux.Exchange(context.Background(), addr, dnstest.Query("a.test.", dns.TypeA))
		require.NoError(t, err)
	}
	oldSockets, _ := socketsOf(mux, old.Addr)
	require.Len(t, oldSockets, 1)

	mux.Retain([]string{kept.Addr})
	require.Eventually(t, func() bool {
		_, retiring := socketsOf(mux, old.Addr)
		return closed(oldSockets[0]) && retiring == 0
	}, dnstest.Patience(5*time.Second), time.Millisecond, "the old upstream's socket closes")
	open, _ := socketsOf(mux, kept.Addr)
	require.Len(t, open, 1)
	assert.False(t, closed(open[0]))
	_, err := mux.Exchange(context.Background(), kept.Addr, dnstest.Query("b.test.", dns.TypeA))
	assert.NoError(t, err)
}

// TestARetiredSocketAnswersWhatWaitsOnIt: a socket let go of with a query
// waiting stays open until that query is answered, then closes.
func TestARetiredSocketAnswersWhatWaitsOnIt(t *testing.T) {
	release := make(chan struct{})
	slow := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		<-release
		m := new(dns.Msg).SetReply(r)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{192, 0, 2, 7}}}
		w.WriteMsg(m)
	})
	mux := NewMux()
	defer mux.Close()
	answered := make(chan *dns.Msg, 1)
	mux.Send(slow.Addr, dnstest.Query("slow.test.", dns.TypeA), 5*time.Second, func(m *dns.Msg, err error) {
		assert.NoError(t, err)
		answered <- m
	})
	require.Eventually(t, func() bool { return len(slow.Received()) == 1 }, dnstest.Patience(5*time.Second), time.Millisecond)
	sockets, _ := socketsOf(mux, slow.Addr)
	require.Len(t, sockets, 1)

	mux.Retain(nil)
	assert.False(t, closed(sockets[0]), "a query still waits on it")
	close(release)
	m := <-answered
	require.NotNil(t, m)
	require.Len(t, m.Answer, 1)
	require.Eventually(t, func() bool { return closed(sockets[0]) }, dnstest.Patience(5*time.Second), time.Millisecond)
}
