package upstream_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/upstream"
)

func TestSystemReadsResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(path, []byte("# a test file, so no test reads the machine's resolver\nnameserver 127.0.0.1\nnameserver ::1\nsearch example.com\n"), 0o644))
	servers, err := upstream.SystemServers(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:53", "[::1]:53"}, servers)
}

func TestSystemWithoutNameserversIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(path, []byte("search example.com\n"), 0o644))
	_, err := upstream.New([]string{"system"}, 0, path, nil)
	assert.ErrorContains(t, err, "names no nameserver")
}

func TestNoneRefuses(t *testing.T) {
	fwd, err := upstream.New([]string{"none"}, 0, "", nil)
	require.NoError(t, err)
	_, err = fwd.Forward(context.Background(), dnstest.Query("a.test.", dns.TypeA), false)
	assert.ErrorIs(t, err, upstream.ErrNone)
}

func TestForwardNeverChangesTheQuery(t *testing.T) {
	up := dnstest.Start(t, dnstest.AnswerA("192.0.2.77"))
	mux := upstream.NewMux()
	defer mux.Close()
	fwd, err := upstream.New([]string{up.Addr}, 0, "", mux)
	require.NoError(t, err)
	q := dnstest.Query("a.test.", dns.TypeA)
	q.SetEdns0(4096, true)
	before := q.String()
	resp, err := fwd.Forward(context.Background(), q, false)
	require.NoError(t, err)
	assert.Equal(t, before, q.String())
	assert.Equal(t, q.Id, resp.Id)
	sent := up.Received()[0].Msg
	assert.Equal(t, uint16(1232), sent.IsEdns0().UDPSize(), "we offer our own EDNS size upstream")
	assert.True(t, sent.IsEdns0().Do(), "DO is passed on")
}
