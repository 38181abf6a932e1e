// Package tcpserve serves DNS over TCP (RFC 7766) behind a dns.Handler.
//
// Unlike miekg/dns's TCP server, which answers a connection's queries one
// at a time and closes it after 128, it reads each query as it comes,
// answers it as soon as the handler is done, in whatever order, and never
// closes a connection with answers still to write: a client that pipelines
// 1,000 queries gets 1,000 answers, and one held by a delay does not hold
// up those behind it. It bounds what clients can take: connections per
// client address, connections in all (at the cap, the connection idle
// longest gives way), queries in flight per connection, and idle time.
package tcpserve

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/listen"
)

// Limits bound what clients can take of a Server.
type Limits struct {
	// MaxConns bounds open connections; at the bound, a new one closes
	// the connection idle longest, or is refused when none is idle.
	MaxConns int
	// PerClient bounds one client address's open connections; over it, a
	// new one is closed at once.
	PerClient int
	// InFlight bounds the queries of one connection being answered at
	// once; past it the connection's next query waits to be read.
	InFlight int
	// Idle closes a connection with no query in flight and none read for
	// that long; a query that does not arrive whole within it ends the
	// connection too.
	Idle time.Duration
}

// Server serves DNS over TCP on one listener.
type Server struct {
	ln     net.Listener
	h      dns.Handler
	limits Limits

	gate     *listen.Gate
	handlers sync.WaitGroup // queries being answered
	readers  sync.WaitGroup // connections' reading goroutines
	done     chan struct{}  // the accept loop has ended
	quit     chan struct{}  // closed by Shutdown: readers stop waiting
}

// Serve serves h on ln in the background until Shutdown.
func Serve(ln net.Listener, h dns.Handler, limits Limits) *Server {
	s := &Server{ln: ln, h: h, limits: limits, gate: listen.NewGate(limits.MaxConns, limits.PerClient), done: make(chan struct{}), quit: make(chan struct{})}
	go s.accept()
	return s
}

func (s *Server) accept() {
	defer close(s.done)
	listen.AcceptAll(s.ln, func(c net.Conn) {
		if cn := s.admit(c); cn != nil {
			s.readers.Add(1)
			go cn.read()
		}
	})
}

// admit takes a new connection in, or closes it when its client holds
// its share already or every place is busy.
func (s *Server) admit(c net.Conn) *conn {
	cn := &conn{s: s, c: c, slots: make(chan struct{}, s.limits.InFlight)}
	cn.refs.Store(1)
	cn.touch()
	if !s.gate.Admit(listen.ClientOf(c), cn) {
		c.Close()
		return nil
	}
	return cn
}

// Shutdown stops accepting, lets the queries being answered finish until
// ctx ends, and closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	close(s.quit)
	err := s.ln.Close()
	<-s.done
	answered := make(chan struct{})
	go func() { s.handlers.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-ctx.Done():
	}
	s.gate.Close()
	s.readers.Wait()
	return err
}

// Open is the number of connections open now.
func (s *Server) Open() int { return s.gate.Open() }

// conn is one client connection.
type conn struct {
	s        *Server
	c        net.Conn
	slots    chan struct{} // one per query in flight
	inFlight atomic.Int32
	last     atomic.Int64 // unix nanoseconds of the last query read or answered
	wmu      sync.Mutex   // one answer written at a time
	// refs are held by the reader and by each query in flight; the last
	// to let go closes the connection, so a client that stops sending
	// (half-closes, or goes quiet) still gets every answer.
	refs atomic.Int32
}

func (cn *conn) touch() { cn.last.Store(time.Now().UnixNano()) }

// IdleSince implements listen.Gated.
func (cn *conn) IdleSince() (int64, bool) { return cn.last.Load(), cn.inFlight.Load() == 0 }

// Evict implements listen.Gated.
func (cn *conn) Evict() { cn.c.Close() }

// read reads queries until the client closes, idles, or sends what is
// not DNS, handing each to the handler in a goroutine of its own.
func (cn *conn) read() {
	defer cn.s.readers.Done()
	defer cn.release()
	var length [2]byte
	for {
		select { // a place for the next query, or wait
		case cn.slots <- struct{}{}:
		case <-cn.s.quit:
			return
		}
		if !cn.readFull(length[:]) {
			return
		}
		b := make([]byte, binary.BigEndian.Uint16(length[:]))
		if !cn.readFull(b) {
			return
		}
		cn.touch()
		req, reject := listen.ParseQuery(b)
		switch {
		case reject != nil:
			(&writer{cn: cn}).WriteMsg(reject)
			<-cn.slots
			continue
		case req == nil:
			return // not DNS: the stream cannot be trusted past it
		}
		cn.inFlight.Add(1)
		cn.refs.Add(1)
		cn.s.handlers.Add(1)
		go cn.serve(req)
	}
}

// readFull reads len(b) bytes. A connection with queries in flight waits
// for them; an idle one waits Limits.Idle.
func (cn *conn) readFull(b []byte) bool {
	for read := 0; ; {
		cn.c.SetReadDeadline(time.Now().Add(cn.s.limits.Idle))
		n, err := io.ReadFull(cn.c, b[read:])
		read += n
		if err == nil {
			return true
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && cn.inFlight.Load() > 0 {
			continue // idle only in reading: answers are still to come
		}
		return false
	}
}

func (cn *conn) serve(req *dns.Msg) {
	defer cn.s.handlers.Done()
	defer func() {
		cn.inFlight.Add(-1)
		cn.touch()
		<-cn.slots
		cn.release()
	}()
	cn.s.h.ServeDNS(&writer{cn: cn}, req)
}

// release lets go of one reference; the last closes the connection.
func (cn *conn) release() {
	if cn.refs.Add(-1) == 0 {
		cn.close()
	}
}

// close ends the connection once no answer is being written.
func (cn *conn) close() {
	cn.s.gate.Forget(cn)
	cn.wmu.Lock()
	cn.c.Close()
	cn.wmu.Unlock()
}

// write sends one length-prefixed message, whole.
func (cn *conn) write(b []byte) error {
	if len(b) > dns.MaxMsgSize {
		return errors.New("tcpserve: message over 65,535 bytes")
	}
	buf := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(buf, uint16(len(b)))
	copy(buf[2:], b)
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.c.SetWriteDeadline(time.Now().Add(cn.s.limits.Idle))
	_, err := cn.c.Write(buf)
	return err
}

// writer is the dns.ResponseWriter of one query.
type writer struct{ cn *conn }

var _ dns.ResponseWriter = (*writer)(nil)

// WriteMsg implements dns.ResponseWriter. An answer too large for a TCP
// message is sent truncated, with TC set, never dropped.
func (w *writer) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err == nil && len(b) > dns.MaxMsgSize || errors.Is(err, dns.ErrBuf) {
		m.Truncate(dns.MaxMsgSize)
		b, err = m.Pack()
	}
	if err != nil {
		return err
	}
	return w.cn.write(b)
}

// Write implements dns.ResponseWriter.
func (w *writer) Write(b []byte) (int, error) { return len(b), w.cn.write(b) }

// LocalAddr implements dns.ResponseWriter.
func (w *writer) LocalAddr() net.Addr { return w.cn.c.LocalAddr() }

// RemoteAddr implements dns.ResponseWriter.
func (w *writer) RemoteAddr() net.Addr { return w.cn.c.RemoteAddr() }

// Network implements dns.ResponseWriter's optional method.
func (w *writer) Network() string { return "tcp" }

// Close implements dns.ResponseWriter: the connection outlives one query.
func (w *writer) Close() error { return nil }

// Hijack implements dns.ResponseWriter: every answer is written when it
// is ready, whether or not the handler has returned.
func (w *writer) Hijack() {}

// TsigStatus implements dns.ResponseWriter.
func (w *writer) TsigStatus() error { return nil }

// TsigTimersOnly implements dns.ResponseWriter.
func (w *writer) TsigTimersOnly(bool) {}
