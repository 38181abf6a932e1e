package udpbatch_test

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/udpbatch"
)

// TestConnRoundTrip reads datagrams from several peers in one batch and
// sends each an answer in one batch, over IPv4 and IPv6: each peer gets
// its own, so addresses and ports are read and written in the right byte
// order and family.
func TestConnRoundTrip(t *testing.T) {
	for _, loopback := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
		t.Run(loopback.String(), func(t *testing.T) {
			server, err := net.ListenUDP("udp", &net.UDPAddr{IP: loopback})
			if err != nil && loopback.To4() == nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			require.NoError(t, err)
			defer server.Close()
			conn, err := udpbatch.NewConn(server)
			require.NoError(t, err)

			const peers = 5
			clients := make([]*net.UDPConn, peers)
			for i := range clients {
				clients[i], err = net.DialUDP("udp", nil, server.LocalAddr().(*net.UDPAddr))
				require.NoError(t, err)
				defer clients[i].Close()
				_, err = clients[i].Write([]byte(fmt.Sprintf("query %d", i)))
				require.NoError(t, err)
			}

			ms := make([]udpbatch.Message, udpbatch.BatchSize)
			for i := range ms {
				ms[i].Buf = make([]byte, 512)
			}
			got := map[string]netip.AddrPort{}
			for len(got) < peers { // the kernel may hand them over in more than one batch
				n, err := conn.ReadBatch(ms)
				require.NoError(t, err)
				for _, m := range ms[:n] {
					assert.False(t, m.Truncated)
					got[string(m.Buf[:m.N])] = m.Addr
				}
			}

			answers := make([]udpbatch.Message, 0, peers)
			for i, c := range clients {
				from := got[fmt.Sprintf("query %d", i)]
				want := c.LocalAddr().(*net.UDPAddr).AddrPort()
				require.Equal(t, want.Port(), from.Port(), "peer %d", i)
				require.Equal(t, want.Addr().Unmap(), from.Addr().Unmap(), "peer %d", i)
				answers = append(answers, udpbatch.Message{Buf: []byte(fmt.Sprintf("answer %d", i)), Addr: from})
			}
			n, err := conn.WriteBatch(answers)
			require.NoError(t, err)
			require.Equal(t, peers, n)
			for i, c := range clients {
				buf := make([]byte, 64)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
				k, err := c.Read(buf)
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("answer %d", i), string(buf[:k]))
			}
		})
	}
}

// TestConnMarksLongDatagramsTruncated is what the upstream Mux relies on
// to retry an answer too long to read over TCP.
func TestConnMarksLongDatagramsTruncated(t *testing.T) {
	server, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer server.Close()
	conn, err := udpbatch.NewConn(server)
	require.NoError(t, err)
	client, err := net.DialUDP("udp", nil, server.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer client.Close()
	_, err = client.Write(make([]byte, 100))
	require.NoError(t, err)

	ms := []udpbatch.Message{{Buf: make([]byte, 40)}}
	n, err := conn.ReadBatch(ms)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.True(t, ms[0].Truncated)
}

// TestConnReadEndsWhenClosed: closing the socket wakes a reader waiting
// in the netpoller with net.ErrClosed, which is how servers stop.
func TestConnReadEndsWhenClosed(t *testing.T) {
	server, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	conn, err := udpbatch.NewConn(server)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := conn.ReadBatch([]udpbatch.Message{{Buf: make([]byte, 512)}})
		errc <- err
	}()
	require.NoError(t, server.Close())
	assert.ErrorIs(t, <-errc, net.ErrClosed)
}
