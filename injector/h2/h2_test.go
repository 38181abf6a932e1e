package h2_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/dnsfault/dnsfault/injector/h2"
)

// serve starts srv on a loopback port, plain TCP (prior-knowledge HTTP/2:
// TLS is the caller's, and changes nothing here), until the test ends.
// record, when set, receives each write the server makes.
func serve(t *testing.T, srv *h2.Server, record func([]byte)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if record != nil {
				c = recordingConn{c, record}
			}
			wg.Add(1)
			go func() { defer wg.Done(); srv.ServeConn(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		srv.Shutdown(context.Background())
		wg.Wait()
	})
	return ln.Addr().String()
}

type recordingConn struct {
	net.Conn
	record func([]byte)
}

func (c recordingConn) Write(b []byte) (int, error) {
	c.record(append([]byte(nil), b...))
	return c.Conn.Write(b)
}

// client is Go's HTTP/2 client over plain TCP.
func client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

// echo answers with what it was asked.
func echo(r *h2.Request) *h2.Response {
	body := fmt.Sprintf("%s %s %s %q too-large=%t", r.Method, r.Path, r.ContentType, r.Body, r.TooLarge)
	return &h2.Response{Status: 200, Header: []hpack.HeaderField{{Name: "content-type", Value: "text/plain"}}, Body: []byte(body)}
}

func TestRequestsAndAnswers(t *testing.T) {
	addr := serve(t, &h2.Server{Handler: echo, MaxBody: 100}, nil)
	c := client()

	resp, err := c.Get("http://" + addr + "/dns-query?dns=AAAB")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor)
	assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	assert.Equal(t, int64(len(body)), resp.ContentLength)
	assert.Equal(t, `GET /dns-query?dns=AAAB  "" too-large=false`, string(body))

	resp, err = c.Post("http://"+addr+"/dns-query", "application/dns-message", strings.NewReader("query"))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, `POST /dns-query application/dns-message "query" too-large=false`, string(body))

	resp, err = c.Post("http://"+addr+"/dns-query", "application/dns-message", bytes.NewReader(make([]byte, 101)))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, `POST /dns-query application/dns-message "" too-large=true`, string(body))
}

func TestConcurrentStreamsGetTheirOwnAnswers(t *testing.T) {
	addr := serve(t, &h2.Server{Handler: echo}, nil)
	c := client()
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/q/%d", i)
			resp, err := c.Get("http://" + addr + path)
			if !assert.NoError(t, err) {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, fmt.Sprintf(`GET %s  "" too-large=false`, path), string(body))
		}()
	}
	wg.Wait()
}

// Each answer is written by a Write of its own (a TLS record of its own
// under TLS): dnsperf takes one answer per record it reads.
func TestEachAnswerIsAWriteOfItsOwn(t *testing.T) {
	var mu sync.Mutex
	var writes [][]byte
	addr := serve(t, &h2.Server{Handler: echo}, func(b []byte) {
		mu.Lock()
		writes = append(writes, b)
		mu.Unlock()
	})
	fr, _ := dial(t, addr)
	for id := uint32(1); id <= 99; id += 2 {
		get(t, fr, id, "/x")
	}
	answered := map[uint32]bool{}
	for len(answered) < 50 {
		f, err := fr.ReadFrame()
		require.NoError(t, err)
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			answered[d.StreamID] = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, w := range writes {
		streams := map[uint32]bool{}
		r := http2.NewFramer(nil, bytes.NewReader(w))
		for {
			f, err := r.ReadFrame()
			if err != nil {
				break
			}
			if f.Header().StreamID != 0 {
				streams[f.Header().StreamID] = true
			}
		}
		assert.LessOrEqual(t, len(streams), 1, "one write holds the frames of one stream at most")
	}
}

// dial opens a raw HTTP/2 connection: the preface and empty SETTINGS are
// sent, and the server's SETTINGS read.
func dial(t *testing.T, addr string) (*http2.Framer, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	require.NoError(t, fr.WriteSettings())
	f, err := fr.ReadFrame()
	require.NoError(t, err)
	require.IsType(t, &http2.SettingsFrame{}, f)
	return fr, c
}

// get sends a GET on stream id.
func get(t *testing.T, fr *http2.Framer, id uint32, path string) {
	t.Helper()
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: headerBlock("GET", path), EndStream: true, EndHeaders: true}))
}

func headerBlock(method, path string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	enc.WriteField(hpack.HeaderField{Name: ":method", Value: method})
	enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "https"})
	enc.WriteField(hpack.HeaderField{Name: ":authority", Value: "dnsfault.test"})
	enc.WriteField(hpack.HeaderField{Name: ":path", Value: path})
	return b.Bytes()
}

// until reads frames until one satisfies ok, which it returns.
func until(t *testing.T, fr *http2.Framer, ok func(http2.Frame) bool) http2.Frame {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err)
		if ok(f) {
			return f
		}
	}
}

func TestStreamsAreBoundedAndADroppedOneLastsUntilReset(t *testing.T) {
	release := make(chan struct{})
	handler := func(r *h2.Request) *h2.Response {
		if r.Path == "/drop" {
			return nil
		}
		<-release
		return echo(r)
	}
	addr := serve(t, &h2.Server{Handler: handler, MaxConcurrentStreams: 2}, nil)
	defer close(release)
	fr, _ := dial(t, addr)
	get(t, fr, 1, "/drop")
	get(t, fr, 3, "/held")
	get(t, fr, 5, "/one-too-many")
	rst := until(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok }).(*http2.RSTStreamFrame)
	assert.Equal(t, uint32(5), rst.StreamID)
	assert.Equal(t, http2.ErrCodeRefusedStream, rst.ErrCode)

	// Resetting a stream whose answer is still being made frees no
	// slot: work cannot pile up.
	require.NoError(t, fr.WriteRSTStream(3, http2.ErrCodeCancel))
	get(t, fr, 7, "/still-too-many")
	rst = until(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok }).(*http2.RSTStreamFrame)
	assert.Equal(t, uint32(7), rst.StreamID)
	release <- struct{}{} // stream 3's answer is made, and goes nowhere

	// The client gives up on the dropped query: its slot is free again.
	require.NoError(t, fr.WriteRSTStream(1, http2.ErrCodeCancel))
	get(t, fr, 9, "/fits")
	get(t, fr, 11, "/fits-too")
	release <- struct{}{}
	release <- struct{}{}
	answered := map[uint32]bool{}
	for len(answered) < 2 {
		f := until(t, fr, func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
		answered[f.Header().StreamID] = true
	}
	assert.Equal(t, map[uint32]bool{9: true, 11: true}, answered)
}

func TestBrokenClientsLoseTheConnection(t *testing.T) {
	addr := serve(t, &h2.Server{Handler: echo}, nil)
	goAway := func(fr *http2.Framer) http2.ErrCode {
		return until(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame).ErrCode
	}

	fr, _ := dial(t, addr)
	get(t, fr, 2, "/even") // client streams are odd
	assert.Equal(t, http2.ErrCodeProtocol, goAway(fr))

	// Request bodies past the connection's window (1 MiB), in bodies of
	// four frames of 16,383 bytes (under the 65,535 a body may have) that
	// never end: the 65th frame is one too many. Nothing is sent after
	// it, so the server has read everything when it closes.
	fr, _ = dial(t, addr)
	chunk := make([]byte, 16383)
	for frame := range 65 {
		id := uint32(2*(frame/4) + 1)
		if frame%4 == 0 {
			require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: headerBlock("POST", "/big"), EndHeaders: true}))
		}
		require.NoError(t, fr.WriteData(id, false, chunk))
	}
	assert.Equal(t, http2.ErrCodeFlowControl, goAway(fr))
}

func TestShutdownWaitsForTheAnswersInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	srv := &h2.Server{Handler: func(r *h2.Request) *h2.Response {
		close(started)
		<-release
		return echo(r)
	}}
	addr := serve(t, srv, nil)
	fr, _ := dial(t, addr)
	get(t, fr, 1, "/slow")
	<-started
	done := make(chan error)
	go func() { done <- srv.Shutdown(context.Background()) }()
	ga := until(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	assert.Equal(t, http2.ErrCodeNo, ga.ErrCode)
	assert.Equal(t, uint32(1), ga.LastStreamID)
	close(release)
	data := until(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok }).(*http2.DataFrame)
	assert.Equal(t, uint32(1), data.StreamID)
	assert.NoError(t, <-done)
	_, err := fr.ReadFrame()
	assert.Error(t, err, "the connection is closed after the last answer")
}

func TestAnIdleConnectionIsClosed(t *testing.T) {
	addr := serve(t, &h2.Server{Handler: echo, IdleTimeout: 50 * time.Millisecond}, nil)
	fr, _ := dial(t, addr)
	get(t, fr, 1, "/one")
	until(t, fr, func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
	ga := until(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	assert.Equal(t, http2.ErrCodeNo, ga.ErrCode)
	_, err := fr.ReadFrame()
	assert.ErrorIs(t, err, io.EOF, "then the connection is closed")
}
