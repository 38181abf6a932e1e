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
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/http2"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/scenarios"
)

// DNS over HTTPS (RFC 8484): GET with ?dns= and POST with
// application/dns-message, over HTTP/2 or HTTP/1.1. Every query goes
// through the same pipeline as UDP and TCP, with transport doh; the answer
// is sent with Cache-Control max-age from its lowest TTL, as the RFC asks.

// dohMaxMessage bounds a query's size, as a DNS message over TCP is.
const dohMaxMessage = 65535

// dohHandshakeTimeout bounds a TLS handshake, as ReadHeaderTimeout bounds
// an HTTP/1.1 request's start.
const dohHandshakeTimeout = 10 * time.Second

// dohStreams bounds the streams one HTTP/2 connection may have open.
const dohStreams = 100

// dohListener serves DoH with net/http, HTTP/2 and HTTP/1.1 alike, its
// connections bounded as TCP's are: per client and in all (a Gate), each
// handshake and each request's body within a deadline, an idle connection
// closed. The TLS handshake is done here, before net/http sees the
// connection, so that each answer can end a TLS record of its own
// (listen.AnswerPerWrite).
type dohListener struct {
	ln       net.Listener
	idle     time.Duration
	gate     *listen.Gate
	http     *http.Server
	conns    *connQueue // handshaken connections, for http
	serving  sync.WaitGroup
	handlers sync.WaitGroup // requests being answered
	done     chan struct{}
}

func (s *Server) serveDoH(addr, path string, tlsCfg *tls.Config) (listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("DoH: %w%s", err, listenHint(err, addr))
	}
	s.dohURL = "https://" + ln.Addr().String() + path
	idle := s.cfg.TCPIdleTimeout
	maxConns := listen.StreamConnCap(s.cfg.MaxTCPConns, s.streamListeners())
	l := &dohListener{
		ln:    ln,
		idle:  idle,
		gate:  listen.NewGate(maxConns, min(s.cfg.MaxTCPConnsPerClient, maxConns)),
		conns: newConnQueue(ln.Addr()),
		done:  make(chan struct{}),
	}
	doh := dohHandler{pipe: s.pipe, path: path, workers: newWarmGoroutines(s.pipe.ctx, 4*runtime.GOMAXPROCS(0))}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // over TLS that is done already
	l.http = &http.Server{
		Handler:           l.bounded(doh),
		Protocols:         protocols,
		ReadHeaderTimeout: idle,
		// A request's body gets the idle timeout to arrive: over HTTP/2
		// each stream has its own timer, so a stream opened and left
		// unfinished ends as an idle connection does.
		ReadTimeout:    idle,
		IdleTimeout:    idle,
		MaxHeaderBytes: dohMaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: dohStreams,
			// A query is at most 64 KiB: a client cannot park more than
			// that per stream, nor twice that per connection.
			MaxReceiveBufferPerStream:     dohMaxMessage,
			MaxReceiveBufferPerConnection: 2 * dohMaxMessage,
			MaxReadFrameSize:              16 << 10,
			// No WriteByteTimeout: it sets a deadline per frame (a tenth
			// of a query's cost); Coalesce bounds a stalled send instead.
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if dc, ok := c.(*dohTLSConn); ok {
				ctx = context.WithValue(ctx, dohConnKey{}, dc.raw)
			}
			return ctx
		},
		// Failed handshakes (tls-fail does them on purpose) are the
		// client's story, not the operator's: debug level.
		ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	cfg := s.withHandshakeFaults(tlsCfg, scenarios.DoH)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	go l.http.Serve(l.conns) // http.ErrServerClosed after Shutdown
	go l.accept(cfg)
	return l, nil
}

// dohMaxHeaderBytes bounds a request's header: room for a GET of the
// largest query in base64url, and no more.
const dohMaxHeaderBytes = 96 << 10

// accept admits each connection through the gate and hands it to a
// goroutine of its own for the handshake.
func (l *dohListener) accept(cfg *tls.Config) {
	defer close(l.done)
	listen.AcceptAll(l.ln, func(c net.Conn) {
		raw := &dohConn{Conn: c, gate: l.gate}
		raw.touch()
		if !l.gate.Admit(listen.ClientOf(c), raw) {
			c.Close()
			return
		}
		l.serving.Add(1)
		go l.handshake(raw, cfg)
	})
}

// handshake completes the connection's TLS handshake within
// dohHandshakeTimeout, then hands it to net/http.
func (l *dohListener) handshake(raw *dohConn, cfg *tls.Config) {
	defer l.serving.Done()
	c, served := listen.AnswerRecords(raw, cfg, l.idle)
	c.SetDeadline(time.Now().Add(dohHandshakeTimeout))
	if err := c.Handshake(); err != nil {
		served.Close() // the TLS connection below, and the goroutine that writes to it
		return
	}
	conn := &dohTLSConn{Conn: served, raw: raw}
	if c.ConnectionState().NegotiatedProtocol == "h2" {
		// A client that chose HTTP/2 must start with its preface; net/http
		// would take anything else for HTTP/1.1 and answer 400 in it.
		conn.preface = make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, conn.preface); err != nil || string(conn.preface) != http2.ClientPreface {
			http2.NewFramer(served, nil).WriteGoAway(0, http2.ErrCodeProtocol, []byte("no HTTP/2 client preface"))
			served.Close()
			return
		}
	}
	c.SetDeadline(time.Time{})
	if !l.conns.push(conn) {
		served.Close()
	}
}

// bounded counts each request against its connection's idleness, so
// that a connection is idle only when no request is open on it.
func (l *dohListener) bounded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.handlers.Add(1)
		defer l.handlers.Done()
		if raw, ok := r.Context().Value(dohConnKey{}).(*dohConn); ok {
			raw.busy.Add(1)
			defer func() { raw.busy.Add(-1); raw.touch() }()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *dohListener) shutdown(ctx context.Context) error {
	l.ln.Close()
	<-l.done
	// Shutdown says GOAWAY to HTTP/2 clients and closes idle connections;
	// the answers in flight get until ctx ends, then every connection
	// closes.
	err := l.http.Shutdown(ctx)
	answered := make(chan struct{})
	go func() { l.handlers.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-ctx.Done():
	}
	l.http.Close()
	l.gate.Close()
	l.serving.Wait()
	return err
}

// dohConn is a DoH connection as the gate counts it: idle when no request
// is being answered, since its last read or answer.
type dohConn struct {
	net.Conn
	gate *listen.Gate
	last atomic.Int64
	busy atomic.Int32
}

func (c *dohConn) touch() { c.last.Store(time.Now().UnixNano()) }

// Read implements net.Conn; bytes from the client count as activity.
func (c *dohConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.touch()
	}
	return n, err
}

// Close implements net.Conn; it gives the connection's place back.
func (c *dohConn) Close() error {
	c.gate.Forget(c)
	return c.Conn.Close()
}

// IdleSince implements listen.Gated.
func (c *dohConn) IdleSince() (int64, bool) { return c.last.Load(), c.busy.Load() == 0 }

// Evict implements listen.Gated.
func (c *dohConn) Evict() { c.Conn.Close() }

// dohTLSConn is a handshaken connection as net/http gets it, with the
// raw connection its requests are counted against, and the HTTP/2 client
// preface already read from it, to be read again.
type dohTLSConn struct {
	net.Conn
	raw     *dohConn
	preface []byte
}

func (c *dohTLSConn) Read(p []byte) (int, error) {
	if len(c.preface) > 0 {
		n := copy(p, c.preface)
		c.preface = c.preface[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

type dohConnKey struct{}

// dohHandler answers DoH requests through the pipeline, for HTTP/1.1
// and HTTP/2 alike.
type dohHandler struct {
	pipe    *pipeline
	path    string
	workers *warmGoroutines
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

// ServeHTTP serves DoH over HTTP/2 and HTTP/1.1.
func (h dohHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// One path, compared as is: a ServeMux would cost a tenth of a
	// query to find the only handler there is.
	if r.URL.Path != h.path {
		http.NotFound(w, r)
		return
	}
	var body []byte
	tooLarge := false
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, dohMaxMessage))
		var over *http.MaxBytesError
		if tooLarge = errors.As(err, &over); err != nil && !tooLarge {
			// The body never came whole (the client went, or its
			// deadline passed): nobody is left to answer.
			panic(http.ErrAbortHandler)
		}
	}
	var rep dohReply
	h.workers.run(func() {
		rep = h.reply(r.Method, r.URL.RawQuery, r.Header.Get("Content-Type"), body, tooLarge, tcpAddr(r.RemoteAddr), tcpAddr(r.Host))
	})
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

// tcpAddr reads an HTTP request's address for the pipeline's client.
func tcpAddr(hostport string) net.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}

// warmGoroutines run functions on goroutines that live on, so that their
// stacks have grown already. net/http starts a goroutine per request, and
// growing its stack through the pipeline cost a fifth of a DoH query.
// When none is free (delays hold them), a function runs where it is.
type warmGoroutines struct{ jobs chan func() }

func newWarmGoroutines(ctx context.Context, n int) *warmGoroutines {
	w := &warmGoroutines{jobs: make(chan func())}
	for range n {
		go func() {
			for {
				select {
				case f := <-w.jobs:
					f()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return w
}

// run runs f and returns when it is done.
func (w *warmGoroutines) run(f func()) {
	done := make(chan struct{})
	select {
	case w.jobs <- func() { f(); close(done) }:
		<-done
	default:
		f()
	}
}
