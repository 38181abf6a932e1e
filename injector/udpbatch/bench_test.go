package udpbatch_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/udpbatch"
)

// BenchmarkUDP serves the same handler with miekg/dns's server and in
// batches, to compare them in one run: go test -bench UDP ./injector/udpbatch/
// Four clients keep 16 queries each in flight.
func BenchmarkUDP(b *testing.B) {
	for _, server := range []struct {
		name  string
		serve func(*net.UDPConn) func()
	}{
		{"miekg", func(conn *net.UDPConn) func() {
			srv := &dns.Server{PacketConn: conn, Handler: dns.HandlerFunc(echoA)}
			started := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(started) }
			go srv.ActivateAndServe()
			<-started
			return func() { srv.Shutdown() }
		}},
		{"batch", func(conn *net.UDPConn) func() {
			s, err := udpbatch.Serve(conn, dns.HandlerFunc(echoA), 1)
			require.NoError(b, err)
			return func() { s.Close() }
		}},
	} {
		b.Run(server.name, func(b *testing.B) {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			conn.SetReadBuffer(4 << 20)
			defer server.serve(conn)()
			pipelined(b, conn.LocalAddr().String())
		})
	}
}

// pipelined sends b.N queries from 4 clients, 16 at a time each.
func pipelined(b *testing.B, addr string) {
	const clients, window = 4, 16
	q := new(dns.Msg).SetQuestion("bench.test.", dns.TypeA)
	query, _ := q.Pack()
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		n := b.N / clients
		if c == 0 {
			n += b.N % clients
		}
		wg.Go(func() {
			conn, err := net.Dial("udp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			buf := make([]byte, 512)
			for sent := 0; sent < n; {
				k := min(window, n-sent)
				for range k {
					conn.Write(query)
				}
				for range k {
					conn.SetReadDeadline(time.Now().Add(5 * time.Second))
					if _, err := conn.Read(buf); err != nil {
						b.Error(err)
						return
					}
				}
				sent += k
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "q/s")
}
