package listen_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/tlscert"
)

// TestEachAnswerEndsATLSRecord: two answers (HEADERS, then DATA with
// END_STREAM) and a PING written to AnswerRecords in one Write reach the
// client as one TLS record per answer; crypto/tls hands a Read at most
// one record, so each Read is one answer. A frame written in pieces
// still ends its record where its stream ends.
func TestEachAnswerEndsATLSRecord(t *testing.T) {
	made, err := tlscert.Make([]string{"127.0.0.1"})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		c, served := listen.AnswerRecords(raw, &tls.Config{Certificates: []tls.Certificate{made.Cert}}, 0)
		if c.Handshake() != nil {
			served.Close()
			close(accepted)
			return
		}
		accepted <- served
	}()
	client, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer client.Close()
	served := <-accepted
	require.NotNil(t, served)
	defer served.Close()

	answer := func(stream uint32, body string) []byte {
		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: []byte{0x88}, EndHeaders: true}) // :status 200
		fr.WriteData(stream, true, []byte(body))
		return b.Bytes()
	}
	first, second := answer(1, "first answer"), answer(3, "second answer")
	var ping bytes.Buffer
	http2.NewFramer(&ping, nil).WritePing(true, [8]byte{1})
	all := append(append(append([]byte{}, first...), second...), ping.Bytes()...)
	_, err = served.Write(all[:5]) // a frame header in pieces
	require.NoError(t, err)
	_, err = served.Write(all[5:])
	require.NoError(t, err)

	read := func() []byte {
		buf := make([]byte, 4096)
		n, err := client.Read(buf)
		require.NoError(t, err)
		return buf[:n]
	}
	got := read()
	if len(got) == 5 { // the first Write's record
		got = append(got, read()...)
	}
	assert.Equal(t, first, got, "the first answer, alone")
	assert.Equal(t, second, read(), "the second answer, alone")
	assert.Equal(t, ping.Bytes(), read(), "what follows, in a record of its own")
}
