package upstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
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
	mu      sync.Mutex
	sockets map[string][]*muxSocket
	closed  bool
}

// NewMux returns a Mux with no sockets yet: they are opened by the first
// query to each upstream.
func NewMux() *Mux { return &Mux{sockets: map[string][]*muxSocket{}} }

// Close closes every socket; queries in flight fail with ErrClosed.
func (m *Mux) Close() error {
	m.mu.Lock()
	m.closed = true
	all := m.sockets
	m.sockets = map[string][]*muxSocket{}
	m.mu.Unlock()
	for _, socks := range all {
		for _, s := range socks {
			if s != nil {
				s.close()
			}
		}
	}
	return nil
}

// Exchange sends query to addr over UDP, with an ID of the Mux's choosing
// (set in query), and waits for the answer until ctx ends. An answer too
// long to read here comes back as an empty truncated one, to retry over
// TCP.
func (m *Mux) Exchange(ctx context.Context, addr string, query *dns.Msg) (*dns.Msg, error) {
	s, err := m.socket(ctx, addr)
	if err != nil {
		return nil, err
	}
	c, err := s.register(query)
	if err != nil {
		return nil, err
	}
	b, err := query.Pack()
	if err == nil {
		_, err = s.conn.Write(b)
	}
	if err != nil {
		s.forget(query.Id, c)
		return nil, err
	}
	select {
	case r := <-c.done:
		return r.msg, r.err
	case <-ctx.Done():
		s.forget(query.Id, c)
		return nil, fmt.Errorf("no answer over udp in time: %w", ctx.Err())
	}
}

// socket returns one of addr's sockets, opening it if need be.
func (m *Mux) socket(ctx context.Context, addr string) (*muxSocket, error) {
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
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	s := newMuxSocket(conn.(*net.UDPConn))
	socks[i] = s
	return s, nil
}

// muxSocket is one connected UDP socket and the queries waiting on it.
type muxSocket struct {
	conn    *net.UDPConn
	batch   interface{ ReadBatch([]ipv4.Message, int) (int, error) }
	mu      sync.Mutex
	waiting map[uint16]*call // nil once closed
	done    chan struct{}    // closed when the reader ends
}

// call is one query waiting for its answer.
type call struct {
	question dns.Question
	done     chan result // buffered: the reader never waits
}

type result struct {
	msg *dns.Msg
	err error
}

func newMuxSocket(conn *net.UDPConn) *muxSocket {
	s := &muxSocket{conn: conn, waiting: map[uint16]*call{}, done: make(chan struct{})}
	if a, ok := conn.RemoteAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		s.batch = ipv6.NewPacketConn(conn)
	} else {
		s.batch = ipv4.NewPacketConn(conn)
	}
	go s.read()
	return s
}

// register gives query an ID no other query on the socket has, and
// records it as waiting.
func (s *muxSocket) register(query *dns.Msg) (*call, error) {
	c := &call{question: query.Question[0], done: make(chan result, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting == nil {
		return nil, ErrClosed
	}
	if len(s.waiting) >= 1<<15 {
		return nil, errors.New("upstream: too many queries in flight")
	}
	for {
		id := uint16(rand.Uint32())
		if _, taken := s.waiting[id]; !taken {
			query.Id = id
			s.waiting[id] = c
			return c, nil
		}
	}
}

// forget stops waiting for query id, if c still waits for it.
func (s *muxSocket) forget(id uint16, c *call) {
	s.mu.Lock()
	if s.waiting[id] == c {
		delete(s.waiting, id)
	}
	s.mu.Unlock()
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
	s.mu.Lock()
	mine := s.waiting[id] == c
	if mine {
		delete(s.waiting, id)
	}
	s.mu.Unlock()
	if mine {
		c.done <- result{msg: resp}
	}
}

// read reads answers in batches until the socket is closed.
func (s *muxSocket) read() {
	defer close(s.done)
	ms := make([]ipv4.Message, muxBatch)
	room := make([]byte, muxBatch*muxReadSize)
	for i := range ms {
		ms[i].Buffers = [][]byte{room[i*muxReadSize : (i+1)*muxReadSize]}
	}
	for {
		n, err := s.batch.ReadBatch(ms, 0)
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
			s.deliver(m.Buffers[0][:m.N], m.Flags&syscall.MSG_TRUNC != 0)
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
	}
	s.mu.Unlock()
	for _, c := range waiting {
		c.done <- result{err: err}
	}
}

// close closes the socket and waits for its reader to end, which fails
// the queries still waiting.
func (s *muxSocket) close() {
	s.conn.Close()
	<-s.done
}
