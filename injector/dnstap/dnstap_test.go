package dnstap_test

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	godnstap "github.com/dnstap/golang-dnstap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dnsfault/dnsfault/injector/dnstap"
)

// TestAReaderThatIsNotThereNeverHoldsAnAnswer: with no reader on the
// socket, frames are held up to MaxPending bytes and the rest dropped
// and counted; writing never blocks.
func TestAReaderThatIsNotThereNeverHoldsAnAnswer(t *testing.T) {
	w, err := dnstap.Open("unix:"+filepath.Join(t.TempDir(), "nobody.sock"), "test")
	require.NoError(t, err)
	e := &dnstap.Exchange{Query: make([]byte, 40), Response: make([]byte, 60), Asked: time.Now(), Answered: time.Now(),
		From: netip.MustParseAddrPort("127.0.0.1:5353"), Protocol: "udp", Phase: "p", Rule: "r", Action: "drop"}
	n := 2 * dnstap.MaxPending / 150 // over twice what is held: frames of 150 bytes and more
	for range n {
		w.Client(e)
	}
	assert.Greater(t, w.Dropped(), uint64(n/2), "the frames past what is held are dropped, and counted")
	done := make(chan struct{})
	go func() { w.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // only waited out when Close hangs
		t.Fatal("Close hung on a reader that is not there")
	}
}

func TestOpenSaysWhatItTakes(t *testing.T) {
	for _, spec := range []string{"", "file:", "udp:127.0.0.1:6000", "/tmp/x"} {
		_, err := dnstap.Open(spec, "test")
		assert.EqualError(t, err, `--dnstap "`+spec+`": give file:PATH, unix:PATH or tcp:HOST:PORT`)
	}
}

// TestFramesReachASocketsReader: over a unix socket and over TCP, a
// reader (golang-dnstap's own) gets a query's and its answer's frames.
func TestFramesReachASocketsReader(t *testing.T) {
	unixPath := filepath.Join(t.TempDir(), "tap.sock")
	unixLn, err := net.Listen("unix", unixPath)
	require.NoError(t, err)
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	for spec, ln := range map[string]net.Listener{"unix:" + unixPath: unixLn, "tcp:" + tcpLn.Addr().String(): tcpLn} {
		frames := make(chan []byte, 8)
		in := godnstap.NewFrameStreamSockInput(ln)
		go in.ReadInto(frames)
		w, err := dnstap.Open(spec, "test")
		require.NoError(t, err)
		w.Client(&dnstap.Exchange{Query: []byte("q"), Response: []byte("r"), Asked: time.Now(), Answered: time.Now(), Protocol: "tcp", Phase: "p", Rule: "r", Action: "servfail"})
		w.Close()
		for _, want := range []godnstap.Message_Type{godnstap.Message_CLIENT_QUERY, godnstap.Message_CLIENT_RESPONSE} {
			select {
			case frame := <-frames:
				var d godnstap.Dnstap
				require.NoError(t, proto.Unmarshal(frame, &d))
				assert.Equal(t, want, d.GetMessage().GetType(), spec)
				assert.Equal(t, godnstap.SocketProtocol_TCP, d.GetMessage().GetSocketProtocol(), spec)
				assert.Equal(t, "test", string(d.GetIdentity()))
				if want == godnstap.Message_CLIENT_RESPONSE {
					assert.Equal(t, "dnsfault phase=p rule=r action=servfail", string(d.GetExtra()))
					assert.Equal(t, []byte("r"), d.GetMessage().GetResponseMessage())
				}
			case <-time.After(30 * time.Second): // only waited out when a frame is lost
				t.Fatalf("%s: no frame", spec)
			}
		}
		ln.Close()
	}
}
