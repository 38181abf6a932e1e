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
	"strconv"
	"time"

	"github.com/miekg/dns"

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

type dohListener struct {
	srv  *http.Server
	done chan struct{}
}

func (s *Server) serveDoH(addr, path string, tlsCfg *tls.Config) (listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("DoH: %w%s", err, listenHint(err, addr))
	}
	s.dohURL = "https://" + ln.Addr().String() + path
	mux := http.NewServeMux()
	mux.Handle(path, dohHandler{s.pipe})
	cfg := s.withHandshakeFaults(tlsCfg, scenarios.DoH)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	l := dohListener{
		srv: &http.Server{
			Handler:           mux,
			TLSConfig:         cfg,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       s.cfg.TCPIdleTimeout,
			// Failed handshakes (tls-fail does them on purpose) are the
			// client's story, not the operator's: debug level.
			ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(l.done)
		// As many connections as TCP may have (--max-tcp-conns), each
		// idle one closed after --tcp-idle-timeout.
		l.srv.ServeTLS(listen.Coalescing(listen.Limited(ln, s.cfg.MaxTCPConns)), "", "") // http.ErrServerClosed after Shutdown
	}()
	return l, nil
}

func (l dohListener) shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	<-l.done
	return err
}

// dohHandler reads a DoH request into a query for the pipeline.
type dohHandler struct{ pipe *pipeline }

func (h dohHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var wire []byte
	var err error
	switch r.Method {
	case http.MethodGet:
		wire, err = base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
		if err != nil || len(wire) == 0 {
			http.Error(w, "GET needs ?dns= with a DNS query in base64url without padding (RFC 8484)", http.StatusBadRequest)
			return
		}
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "application/dns-message" {
			http.Error(w, "POST needs Content-Type: application/dns-message (RFC 8484)", http.StatusUnsupportedMediaType)
			return
		}
		wire, err = io.ReadAll(http.MaxBytesReader(w, r.Body, dohMaxMessage))
		if err != nil {
			http.Error(w, "the query is over 65,535 bytes", http.StatusRequestEntityTooLarge)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "DoH takes GET and POST", http.StatusMethodNotAllowed)
		return
	}
	req := new(dns.Msg)
	if err := req.Unpack(wire); err != nil || req.Response {
		http.Error(w, "the body is not a DNS query", http.StatusBadRequest)
		return
	}
	dw := &dohWriter{remote: tcpAddr(r.RemoteAddr), local: tcpAddr(r.Host)}
	h.pipe.serve(dw, req, scenarios.DoH)
	switch {
	case dw.http != nil:
		if d := dw.http.RetryAfter; d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
		}
		http.Error(w, http.StatusText(dw.http.Status), dw.http.Status)
	case dw.wire == nil:
		// drop: no answer; the request waits until the client gives up
		// or the server shuts down, then the stream is reset.
		select {
		case <-r.Context().Done():
		case <-h.pipe.ctx.Done():
		}
		panic(http.ErrAbortHandler)
	default:
		w.Header().Set("Content-Type", "application/dns-message")
		if dw.ttl >= 0 {
			w.Header().Set("Cache-Control", "max-age="+strconv.FormatInt(dw.ttl, 10))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(dw.wire)))
		w.Write(dw.wire)
	}
}

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
