package injector

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/http2/hpack"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/h2"
	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/scenarios"
)

// DNS over HTTPS (RFC 8484): GET with ?dns= and POST with
// application/dns-message, over HTTP/2 or HTTP/1.1. Every query goes
// through the same pipeline as UDP and TCP, with transport doh; the answer
// is sent with Cache-Control max-age from its lowest TTL, as the RFC asks.

// dohMaxMessage bounds a query's size, as a DNS message over TCP is.
const dohMaxMessage = 65535

type dohListener struct {
	ln   net.Listener
	h1   *http.Server // HTTP/1.1
	h2   *h2.Server   // HTTP/2
	h1ln *connQueue   // the TLS connections that chose HTTP/1.1, for h1
	done chan struct{}
}

func (s *Server) serveDoH(addr, path string, tlsCfg *tls.Config) (listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("DoH: %w%s", err, listenHint(err, addr))
	}
	s.dohURL = "https://" + ln.Addr().String() + path
	handler := dohHandler{pipe: s.pipe, path: path}
	mux := http.NewServeMux()
	mux.Handle(path, handler)
	cfg := s.withHandshakeFaults(tlsCfg, scenarios.DoH)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	l := &dohListener{
		ln: ln,
		h1: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       s.cfg.TCPIdleTimeout,
			// HTTP/2 is h2's: net/http must not take it over.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
			// Failed handshakes (tls-fail does them on purpose) are the
			// client's story, not the operator's: debug level.
			ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
		},
		h2:   &h2.Server{Handler: handler.serveH2, IdleTimeout: s.cfg.TCPIdleTimeout},
		h1ln: newConnQueue(ln.Addr()),
		done: make(chan struct{}),
	}
	go l.h1.Serve(l.h1ln) // http.ErrServerClosed after Shutdown
	go func() {
		defer close(l.done)
		// As many connections as TCP may have (--max-tcp-conns), each
		// idle one closed after --tcp-idle-timeout.
		limited := listen.Coalescing(listen.Limited(ln, s.cfg.MaxTCPConns))
		for {
			c, err := limited.Accept()
			if err != nil {
				return
			}
			go l.handshake(tls.Server(c, cfg))
		}
	}()
	return l, nil
}

// dohHandshakeTimeout bounds a TLS handshake, as ReadHeaderTimeout bounds
// an HTTP/1.1 request's start.
const dohHandshakeTimeout = 10 * time.Second

// handshake completes c's TLS handshake and serves it with the HTTP
// version it chose.
func (l *dohListener) handshake(c *tls.Conn) {
	c.SetDeadline(time.Now().Add(dohHandshakeTimeout))
	if err := c.Handshake(); err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	if c.ConnectionState().NegotiatedProtocol == "h2" {
		l.h2.ServeConn(c)
		return
	}
	if !l.h1ln.push(c) {
		c.Close()
	}
}

func (l *dohListener) shutdown(ctx context.Context) error {
	l.ln.Close()
	<-l.done
	err := l.h1.Shutdown(ctx) // closes h1ln too
	if err2 := l.h2.Shutdown(ctx); err == nil {
		err = err2
	}
	return err
}

// dohHandler answers DoH requests through the pipeline, for HTTP/1.1
// (ServeHTTP) and HTTP/2 (serveH2).
type dohHandler struct {
	pipe *pipeline
	path string
}

// dohReply is what a DoH request gets: an answer, an HTTP error, or
// nothing (drop).
type dohReply struct {
	status     int
	text       string        // an error's body
	retryAfter time.Duration // with an error status
	wire       []byte        // an answer
	ttl        int64         // the answer's cache lifetime, -1: none
	none       bool          // drop: no reply at all
}

// reply reads a request (method, URL query, content type, body) into a
// query, has the pipeline answer it, and says what to send back.
func (h dohHandler) reply(method, rawQuery, contentType string, body []byte, tooLarge bool, remote, local net.Addr) dohReply {
	var wire []byte
	switch method {
	case http.MethodGet:
		q, _ := url.ParseQuery(rawQuery)
		var err error
		wire, err = base64.RawURLEncoding.DecodeString(q.Get("dns"))
		if err != nil || len(wire) == 0 {
			return dohReply{status: http.StatusBadRequest, text: "GET needs ?dns= with a DNS query in base64url without padding (RFC 8484)"}
		}
	case http.MethodPost:
		if contentType != "application/dns-message" {
			return dohReply{status: http.StatusUnsupportedMediaType, text: "POST needs Content-Type: application/dns-message (RFC 8484)"}
		}
		if tooLarge {
			return dohReply{status: http.StatusRequestEntityTooLarge, text: "the query is over 65,535 bytes"}
		}
		wire = body
	default:
		return dohReply{status: http.StatusMethodNotAllowed, text: "DoH takes GET and POST"}
	}
	req := new(dns.Msg)
	if err := req.Unpack(wire); err != nil || req.Response {
		return dohReply{status: http.StatusBadRequest, text: "the body is not a DNS query"}
	}
	dw := &dohWriter{remote: remote, local: local}
	h.pipe.serve(dw, req, scenarios.DoH)
	switch {
	case dw.http != nil:
		return dohReply{status: dw.http.Status, text: http.StatusText(dw.http.Status), retryAfter: dw.http.RetryAfter}
	case dw.wire == nil:
		return dohReply{none: true}
	}
	return dohReply{status: http.StatusOK, wire: dw.wire, ttl: dw.ttl}
}

// ServeHTTP serves DoH over HTTP/1.1.
func (h dohHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	tooLarge := false
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, dohMaxMessage))
		tooLarge = err != nil
	}
	rep := h.reply(r.Method, r.URL.RawQuery, r.Header.Get("Content-Type"), body, tooLarge, tcpAddr(r.RemoteAddr), tcpAddr(r.Host))
	switch {
	case rep.none:
		// drop: no answer; the request waits until the client gives up
		// or the server shuts down, then the connection is reset.
		select {
		case <-r.Context().Done():
		case <-h.pipe.ctx.Done():
		}
		panic(http.ErrAbortHandler)
	case rep.status != http.StatusOK:
		if rep.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "GET, POST")
		}
		if d := rep.retryAfter; d > 0 {
			w.Header().Set("Retry-After", retryAfter(d))
		}
		http.Error(w, rep.text, rep.status)
	default:
		w.Header().Set("Content-Type", "application/dns-message")
		if rep.ttl >= 0 {
			w.Header().Set("Cache-Control", "max-age="+strconv.FormatInt(rep.ttl, 10))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(rep.wire)))
		w.Write(rep.wire)
	}
}

// serveH2 serves DoH over HTTP/2. A dropped query gets no answer: its
// stream stays open until the client resets it or the connection ends.
func (h dohHandler) serveH2(r *h2.Request) *h2.Response {
	path, rawQuery, _ := strings.Cut(r.Path, "?")
	if path != h.path {
		return &h2.Response{Status: http.StatusNotFound, Header: textHeader, Body: []byte("404 page not found\n")}
	}
	rep := h.reply(r.Method, rawQuery, r.ContentType, r.Body, r.TooLarge, r.Remote, r.Local)
	switch {
	case rep.none:
		return nil
	case rep.status != http.StatusOK:
		header := textHeader
		if rep.status == http.StatusMethodNotAllowed {
			header = append(header[:len(header):len(header)], hpack.HeaderField{Name: "allow", Value: "GET, POST"})
		}
		if d := rep.retryAfter; d > 0 {
			header = append(header[:len(header):len(header)], hpack.HeaderField{Name: "retry-after", Value: retryAfter(d)})
		}
		return &h2.Response{Status: rep.status, Header: header, Body: []byte(rep.text + "\n")}
	}
	header := []hpack.HeaderField{{Name: "content-type", Value: "application/dns-message"}}
	if rep.ttl >= 0 {
		header = append(header, hpack.HeaderField{Name: "cache-control", Value: "max-age=" + strconv.FormatInt(rep.ttl, 10)})
	}
	return &h2.Response{Status: http.StatusOK, Header: header, Body: rep.wire}
}

// textHeader is the header of an error's text, as http.Error sends it.
var textHeader = []hpack.HeaderField{{Name: "content-type", Value: "text/plain; charset=utf-8"}, {Name: "x-content-type-options", Value: "nosniff"}}

// retryAfter is a Retry-After value: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// connQueue is a net.Listener whose connections are pushed to it: the
// TLS connections that chose HTTP/1.1, for net/http.
type connQueue struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands c to the listener's Accept; false once it is closed.
func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.conns <- c:
		return true
	case <-q.closed:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// dohWriter keeps what the pipeline answers, for the HTTP response.
type dohWriter struct {
	remote, local net.Addr
	wire          []byte
	ttl           int64 // the answer's cache lifetime, -1: none (garbage)
	http          *fault.HTTPError
}

var _ dns.ResponseWriter = (*dohWriter)(nil)

func (w *dohWriter) LocalAddr() net.Addr  { return w.local }
func (w *dohWriter) RemoteAddr() net.Addr { return w.remote }

// WriteMsg implements dns.ResponseWriter.
func (w *dohWriter) WriteMsg(m *dns.Msg) error {
	wire, err := m.Pack()
	if err != nil {
		return err
	}
	w.wire, w.ttl = wire, max(cacheTTL(m), 0)
	return nil
}

// Write implements dns.ResponseWriter: bytes sent as they are (garbage).
func (w *dohWriter) Write(b []byte) (int, error) {
	w.wire, w.ttl = append([]byte(nil), b...), -1
	return len(b), nil
}

// writeHTTPError sends an HTTP error instead of a DNS answer.
func (w *dohWriter) writeHTTPError(e *fault.HTTPError) { w.http = e }

func (w *dohWriter) Close() error        { return nil }
func (w *dohWriter) TsigStatus() error   { return nil }
func (w *dohWriter) TsigTimersOnly(bool) {}
func (w *dohWriter) Hijack()             {}

// httpErrorWriter is a writer that can send an HTTP error (DoH's).
type httpErrorWriter interface{ writeHTTPError(*fault.HTTPError) }

// errNotHTTP is why an http-status fault answers SERVFAIL on a transport
// that is not DoH.
var errNotHTTP = errors.New("http-status over a transport that is not DoH")

// tcpAddr reads an HTTP request's address for the pipeline's client.
func tcpAddr(hostport string) net.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}
