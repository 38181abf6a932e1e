package injector

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// TestUDPSocketsShareThePort: with several UDP sockets on one port, each
// served in batches, every client is answered whichever socket the kernel
// gives it, and shutdown closes them all: the port can then be bound
// again without SO_REUSEPORT.
func TestUDPSocketsShareThePort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux spreads datagrams across sockets sharing a port")
	}
	sc, err := scenarios.Parse("p.yaml", []byte(prepackedScenario), scenarios.Options{})
	require.NoError(t, err)
	srv, err := New(Config{Listen: "127.0.0.1:0", UDPSockets: 4}, sc)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	require.Len(t, srv.listeners[0].(*udpListener).batches, 4)

	// Each query from a socket of its own: the kernel picks the server's
	// socket by the client's port. A socket no client reaches, unserved or
	// not, goes unnoticed; with 32 clients the chance of that is (3/4)^32,
	// about 1 in 10,000, per socket.
	for i := range 32 {
		conn, err := net.Dial("udp", srv.Addr())
		require.NoError(t, err)
		c := &dns.Conn{Conn: conn}
		q := new(dns.Msg).SetQuestion("www.p.test.", dns.TypeA)
		require.NoError(t, c.WriteMsg(q))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
		resp, err := c.ReadMsg()
		require.NoError(t, err, "client %d", i)
		assert.Len(t, resp.Answer, 2)
		conn.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	pc, err := net.ListenPacket("udp", srv.Addr())
	require.NoError(t, err, "a socket outlived the server")
	pc.Close()
}

// TestAUDPSocketPerCoreOnEveryAddress: wildcard addresses are served in
// batches like any other (answers leave from the address asked), on a
// socket per core; a host name gets one.
func TestAUDPSocketPerCoreOnEveryAddress(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:53", "[::]:53", ":53", "127.0.0.1:53"} {
		s := &Server{cfg: Config{Listen: listen}}
		assert.Equal(t, runtime.GOMAXPROCS(0), s.udpSockets(), listen)
	}
	s := &Server{cfg: Config{Listen: "localhost:53"}}
	assert.Equal(t, 1, s.udpSockets())
}

// TestAReloadLetsGoOfTheOldUpstream: the Mux's sockets follow the
// scenario's upstream; the old one's do not stay until shutdown.
func TestAReloadLetsGoOfTheOldUpstream(t *testing.T) {
	answer := dnstest.AnswerA("192.0.2.1")
	first, second := dnstest.Start(t, answer), dnstest.Start(t, answer)
	scenario := func(upstream string) *scenarios.Scenario {
		sc, err := scenarios.Parse("u.yaml", []byte("version: 1\nupstream: "+upstream+"\n"), scenarios.Options{})
		require.NoError(t, err)
		return sc
	}
	srv, err := New(Config{Listen: "127.0.0.1:0"}, scenario(first.Addr))
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	defer srv.Shutdown(context.Background())
	ask := func() {
		resp, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("a.test.", dns.TypeA), 2*time.Second)
		require.NoError(t, err)
		require.Equal(t, dns.RcodeSuccess, resp.Rcode)
	}
	ask()
	assert.Equal(t, []string{first.Addr}, srv.mux.Upstreams())

	require.NoError(t, srv.Load(scenario(second.Addr), "test", false))
	assert.Empty(t, srv.mux.Upstreams())
	ask()
	assert.Equal(t, []string{second.Addr}, srv.mux.Upstreams())
	assert.Len(t, second.Received(), 1)
}
