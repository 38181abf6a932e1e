package upstream_test

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

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/upstream"
)

// numbered answers nameN.test. with 10.0.N/256.N%256, so an answer given
// to the wrong query shows.
func numbered(name string) string {
	var n int
	fmt.Sscanf(name, "name%d.", &n)
	return fmt.Sprintf("%s 60 IN A 10.0.%d.%d", name, n/256, n%256)
}

func TestConcurrentQueriesShareSocketsAndGetTheirOwnAnswers(t *testing.T) {
	up := dnstest.Start(t, dnstest.Answer(numbered))
	mux := upstream.NewMux()
	defer mux.Close()
	pool := &upstream.Pool{Addrs: []string{up.Addr}, Timeout: dnstest.Patience(5 * time.Second), Mux: mux}

	// 16 at a time: enough to interleave on the shared sockets, few
	// enough for the fake upstream's default socket buffer.
	const workers, each = 16, 30
	const n = workers * each
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * each; i < (w+1)*each; i++ {
				name := fmt.Sprintf("name%d.test.", i)
				q := dnstest.Query(name, dns.TypeA)
				resp, err := pool.Forward(context.Background(), q, false)
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, q.Id, resp.Id, "the client's ID comes back")
				if !assert.Len(t, resp.Answer, 1) { // not require: not the test's goroutine
					return
				}
				assert.Equal(t, net.IPv4(10, 0, byte(i/256), byte(i%256)).To4(), resp.Answer[0].(*dns.A).A.To4(), "the answer to %s", name)
			}
		})
	}
	wg.Wait()

	ports := map[string]bool{}
	for _, r := range up.Received() {
		assert.Equal(t, "udp", r.Transport)
		ports[r.From] = true
	}
	assert.LessOrEqual(t, len(ports), 4, "%d queries went out on a few shared sockets, not one each", n)
}

func TestAsyncForwardCallsBackOnce(t *testing.T) {
	up := dnstest.Start(t, dnstest.Answer(numbered))
	mux := upstream.NewMux()
	defer mux.Close()
	pool := &upstream.Pool{Addrs: []string{up.Addr}, Timeout: dnstest.Patience(5 * time.Second), Mux: mux}

	answers := make(chan *dns.Msg, 2)
	q := dnstest.Query("name7.test.", dns.TypeA)
	pool.ForwardAsync(context.Background(), q, func(m *dns.Msg, err error) {
		assert.NoError(t, err)
		answers <- m
	})
	m := <-answers
	assert.Equal(t, q.Id, m.Id)
	assert.Equal(t, "name7.test.\t60\tIN\tA\t10.0.0.7", m.Answer[0].String())
}

func TestAnswerTooLongToReadIsRetriedOverTCP(t *testing.T) {
	// 300 A records: about 4.8 KB, more than the room for one UDP answer,
	// sent whole over UDP by an upstream that ignores our EDNS size.
	up := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		for i := range 300 {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.IPv4(10, 1, byte(i/256), byte(i%256))})
		}
		w.WriteMsg(m)
	})
	mux := upstream.NewMux()
	defer mux.Close()
	pool := &upstream.Pool{Addrs: []string{up.Addr}, Timeout: dnstest.Patience(5 * time.Second), Mux: mux}

	resp, err := pool.Forward(context.Background(), dnstest.Query("big.test.", dns.TypeA), false)
	require.NoError(t, err)
	assert.Len(t, resp.Answer, 300)
	var transports []string
	for _, r := range up.Received() {
		transports = append(transports, r.Transport)
	}
	assert.Equal(t, []string{"udp", "tcp"}, transports)
}

func TestClosingTheMuxEndsTheWaits(t *testing.T) {
	up := dnstest.Start(t, dnstest.Silent)
	mux := upstream.NewMux()
	pool := &upstream.Pool{Addrs: []string{up.Addr}, Timeout: time.Hour, Mux: mux}

	failed := make(chan error, 1)
	pool.ForwardAsync(context.Background(), dnstest.Query("a.test.", dns.TypeA), func(_ *dns.Msg, err error) { failed <- err })
	require.Eventually(t, func() bool { return len(up.Received()) == 1 }, dnstest.Patience(5*time.Second), time.Millisecond)
	require.NoError(t, mux.Close())
	assert.ErrorIs(t, <-failed, upstream.ErrClosed)
}

func TestSilentUpstreamTimesOut(t *testing.T) {
	up := dnstest.Start(t, dnstest.Silent)
	mux := upstream.NewMux()
	defer mux.Close()
	pool := &upstream.Pool{Addrs: []string{up.Addr}, Timeout: 100 * time.Millisecond, Mux: mux}

	_, err := pool.Forward(context.Background(), dnstest.Query("a.test.", dns.TypeA), false)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	failed := make(chan error, 1)
	pool.ForwardAsync(context.Background(), dnstest.Query("b.test.", dns.TypeA), func(_ *dns.Msg, err error) { failed <- err })
	assert.ErrorIs(t, <-failed, context.DeadlineExceeded)
}
