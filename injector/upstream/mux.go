package upstream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/udpbatch"
)

// socketsPerAddr is how many UDP sockets a Mux keeps to each upstream. A
// query goes out on one of them at random, so a forger must guess its port
// as well as its ID.
const socketsPerAddr = 4

// Reading answers: up to muxBatch datagrams a system call, each given
// muxReadSize bytes. We offer 1232 bytes upstream (EDNS); a longer answer
// is cut short by the kernel and retried over TCP, as a truncated one is.
const (
	muxBatch    = 32
	muxReadSize = 4096
)

// ErrClosed is returned for queries in flight when their Mux is closed.
var ErrClosed = errors.New("upstream: closed")

// Mux sends UDP queries to upstreams over a few shared sockets, one reader
// goroutine each matching answers to queries by ID and question. A query
// costs one send and a share of a batched read; opening a socket per
// query, or parking a socket with each waiting query, costs several
// system calls more. A Mux is safe for concurrent use; Close ends it.
type Mux struct {
	mu       sync.Mutex
	sockets  map[string][]*muxSocket
	retiring map[*muxSocket]bool // sockets of upstreams let go, still answering
	closed   bool
}

// NewMux returns a Mux with no sockets yet: they are opened by the first
// query to each upstream.
func NewMux() *Mux {
	return &Mux{sockets: map[string][]*muxSocket{}, retiring: map[*muxSocket]bool{}}
}

// Close closes every socket; queries in flight fail with ErrClosed.
func (m *Mux) Close() error {
	m.mu.Lock()
	m.closed = true
	var all []*muxSocket
	for _, socks := range m.sockets {
		for _, s := range socks {
			if s != nil {
				all = append(all, s)
			}
		}
	}
	for s := range m.retiring {
		all = append(all, s)
	}
	m.sockets = map[string][]*muxSocket{}
	m.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	return nil
}

// Upstreams are the addresses the Mux holds sockets to, sorted; those let
// go of by Retain are not among them.
func (m *Mux) Upstreams() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.sockets))
}

// Retain lets go of the sockets of every upstream not in keep: after a
// reload to other upstreams, the old ones' sockets and goroutines would
// otherwise stay until Close. Each closes once the queries waiting on it
// are answered or time out.
func (m *Mux) Retain(keep []string) {
	m.mu.Lock()
	var retired []*muxSocket
	for addr, socks := range m.sockets {
		if slices.Contains(keep, addr) {
			continue
		}
		delete(m.sockets, addr)
		for _, s := range socks {
			if s != nil {
				m.retiring[s] = true
				retired = append(retired, s)
			}
		}
	}
	m.mu.Unlock()
	for _, s := range retired {
		s.retire(func() {
			m.mu.Lock()
			delete(m.retiring, s)
			m.mu.Unlock()
		})
	}
}

// Send sends query to addr over UDP, with an ID of the Mux's choosing
// (set in query), and calls done exactly once: with the answer, or with an
// error when none came within timeout, the send failed, or the Mux
// closed. done runs on another goroutine (or on this one, for an error
// before sending) and must not block: it holds up other answers. An
// answer too long to read here comes back as an empty truncated one, to
// retry over TCP.
func (m *Mux) Send(addr string, query *dns.Msg, timeout time.Duration, done func(*dns.Msg, error)) {
	s, err := m.socket(addr)
	if err != nil {
		done(nil, err)
		return
	}
	c := &call{question: query.Question[0], done: done}
	if err := s.register(query, c, timeout); err != nil {
		done(nil, err)
		return
	}
	b, err := query.Pack()
	if err == nil && !s.out.Send(b, netip.AddrPort{}, netip.Addr{}) {
		err = ErrClosed
	}
	if err != nil && s.take(query.Id, c) {
		done(nil, err)
	}
}

// Exchange is Send for a caller that waits: it returns the answer, or an
// error when none came before ctx's deadline.
func (m *Mux) Exchange(ctx context.Context, addr string, query *dns.Msg) (*dns.Msg, error) {
	timeout := DefaultTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	answer := make(chan result, 1) // the late answer of a cancelled wait lands here
	m.Send(addr, query, timeout, func(msg *dns.Msg, err error) { answer <- result{msg, err} })
	select {
	case r := <-answer:
		return r.msg, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer over udp in time: %w", ctx.Err())
	}
}

// socket returns one of addr's sockets, opening it if need be.
func (m *Mux) socket(addr string) (*muxSocket, error) {
	i := rand.IntN(socketsPerAddr)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	socks := m.sockets[addr]
	if socks == nil {
		socks = make([]*muxSocket, socketsPerAddr)
		m.sockets[addr] = socks
	}
	if s := socks[i]; s != nil {
		return s, nil
	}
	// Connecting a UDP socket sends nothing: it cannot block.
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	udp := conn.(*net.UDPConn)
	// Answers come back in bursts as large as the bursts of queries; the
	// default buffer overflows at a few thousand queries a second.
	udp.SetReadBuffer(listen.UDPReadBuffer)
	s, err := newMuxSocket(udp)
	if err != nil {
		udp.Close()
		return nil, err
	}
	socks[i] = s
	return s, nil
}

// muxSocket is one connected UDP socket and the queries waiting on it.
type muxSocket struct {
	conn    *net.UDPConn
	out     *udpbatch.Sender // queries go out in batches
	in      *udpbatch.Conn   // answers are read in batches
	mu      sync.Mutex
	waiting map[uint16]*call // nil once closed
	done    chan struct{}    // closed when the reader ends
	closing sync.Once

	// gone, once set (under mu), says the socket is let go of: it closes
	// when no query waits on it, and then calls gone.
	gone func()
}

// call is one query waiting for its answer.
type call struct {
	question dns.Question
	done     func(*dns.Msg, error)
	timer    *time.Timer // ends the wait after the timeout
}

type result struct {
	msg *dns.Msg
	err error
}

func newMuxSocket(conn *net.UDPConn) (*muxSocket, error) {
	in, err := udpbatch.NewConn(conn)
	if err != nil {
		return nil, err
	}
	out, err := udpbatch.NewSender(conn)
	if err != nil {
		return nil, err
	}
	s := &muxSocket{conn: conn, out: out, in: in, waiting: map[uint16]*call{}, done: make(chan struct{})}
	go s.read()
	return s, nil
}

// register gives query an ID no other query on the socket has, records c
// as waiting for it, and starts its timeout.
func (s *muxSocket) register(query *dns.Msg, c *call, timeout time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting == nil {
		return ErrClosed
	}
	if len(s.waiting) >= 1<<15 {
		return errors.New("upstream: too many queries in flight")
	}
	id := uint16(rand.Uint32())
	for s.waiting[id] != nil {
		id = uint16(rand.Uint32())
	}
	query.Id = id
	s.waiting[id] = c
	c.timer = time.AfterFunc(timeout, func() {
		if s.take(id, c) {
			c.done(nil, fmt.Errorf("no answer over udp in time: %w", context.DeadlineExceeded))
		}
	})
	return nil
}

// take ends the wait of c for id and reports whether it was still
// waiting: whoever takes it calls done.
func (s *muxSocket) take(id uint16, c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting[id] != c {
		return false
	}
	delete(s.waiting, id)
	c.timer.Stop()
	s.closeIfRetiredLocked()
	return true
}

// retire lets go of s: it closes as soon as no query waits on it, then
// calls gone.
func (s *muxSocket) retire(gone func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = gone
	s.closeIfRetiredLocked()
}

// closeIfRetiredLocked closes s, on another goroutine (the reader may be
// the caller, and closing waits for it), when it is retired and idle.
func (s *muxSocket) closeIfRetiredLocked() {
	if s.gone != nil && len(s.waiting) == 0 {
		gone := s.gone
		go func() {
			s.close()
			gone()
		}()
	}
}

// deliver hands an answer to the query waiting for it. Answers nobody
// waits for, or to another question, are dropped: late, stray or forged.
func (s *muxSocket) deliver(b []byte, cut bool) {
	if len(b) < 2 {
		return
	}
	id := uint16(b[0])<<8 | uint16(b[1])
	s.mu.Lock()
	c := s.waiting[id]
	s.mu.Unlock()
	if c == nil {
		return
	}
	resp := new(dns.Msg)
	if cut {
		// Too long to read: say it was truncated, so TCP is tried.
		if resp.Unpack(b[:12]) != nil || !resp.Response {
			return
		}
		resp.Truncated, resp.Question = true, []dns.Question{c.question}
	} else if resp.Unpack(b) != nil || !answers(resp, c.question) {
		return
	}
	if s.take(id, c) {
		c.done(resp, nil)
	}
}

// read reads answers in batches until the socket is closed.
func (s *muxSocket) read() {
	defer close(s.done)
	ms := make([]udpbatch.Message, muxBatch)
	room := make([]byte, muxBatch*muxReadSize)
	for i := range ms {
		ms[i].Buf = room[i*muxReadSize : (i+1)*muxReadSize]
	}
	for {
		n, err := s.in.ReadBatch(ms)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				s.fail(ErrClosed)
				return
			}
			// The upstream refused or is unreachable (ICMP): every query
			// waiting on it fails now, so the next upstream is tried.
			s.fail(err)
			continue
		}
		for _, m := range ms[:n] {
			s.deliver(m.Buf[:m.N], m.Truncated)
		}
	}
}

// fail ends every waiting query with err.
func (s *muxSocket) fail(err error) {
	s.mu.Lock()
	waiting := s.waiting
	if errors.Is(err, ErrClosed) {
		s.waiting = nil
	} else {
		s.waiting = map[uint16]*call{}
		s.closeIfRetiredLocked()
	}
	for _, c := range waiting {
		c.timer.Stop()
	}
	s.mu.Unlock()
	for _, c := range waiting {
		c.done(nil, err)
	}
}

// close closes the socket and waits for its reader to end, which fails
// the queries still waiting.
func (s *muxSocket) close() {
	s.closing.Do(func() {
		s.out.Close()
		s.conn.Close()
	})
	<-s.done
}
