package listen_test

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/listen"
)

// TestCoalescingKeepsEveryByteInOrder: writes queued one after another
// arrive whole and in order, Close sends what is still queued, and a
// write after Close fails.
func TestCoalescingKeepsEveryByteInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := listen.Coalescing(ln)
	defer cl.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := cl.Accept()
	require.NoError(t, err)

	var want []byte
	for i := range 1000 {
		chunk := []byte{byte(i), byte(i >> 8), 'x'}
		want = append(want, chunk...)
		n, err := server.Write(chunk)
		require.NoError(t, err)
		require.Equal(t, len(chunk), n)
	}
	require.NoError(t, server.Close())
	got, err := io.ReadAll(client)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = server.Write([]byte("late"))
	assert.ErrorIs(t, err, net.ErrClosed)
}
