package h2_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/dnsfault/dnsfault/injector/h2"
)

// FuzzConn sends the server a client preface and then any bytes: it
// must never panic, and must end the connection once the client has.
func FuzzConn(f *testing.F) {
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: headerBlock("GET", "/dns-query?dns=AAAB"), EndStream: true, EndHeaders: true})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: headerBlock("POST", "/dns-query"), EndHeaders: true})
	fr.WriteData(3, true, []byte("query"))
	fr.WriteWindowUpdate(0, 1000)
	fr.WritePing(false, [8]byte{1})
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	f.Add(seed.Bytes())
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	srv := &h2.Server{Handler: func(r *h2.Request) *h2.Response {
		return &h2.Response{Status: 200, Header: []hpack.HeaderField{{Name: "content-type", Value: "text/plain"}}, Body: r.Body}
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() { srv.ServeConn(server); close(done) }()
		go io.Copy(io.Discard, client) // what the server writes
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write([]byte(http2.ClientPreface))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not end the connection after the client closed it")
		}
	})
}
