package udpbatch

import (
	"net"
	"net/netip"
	"sync"
)

// Sender sends datagrams on one socket in batches, from a goroutine of its
// own: datagrams sent one by one, each with its own system call and its
// own wake-up of the receiver, cost about twice as much under load. A
// burst of sends (the answers an upstream's batch brought, say) fills the
// queue while the goroutine waits its turn, and goes out in a few
// sendmmsg calls. Close sends what is queued and stops.
type Sender struct {
	conn *Conn
	mu   sync.Mutex
	out  []Message     // to send
	open bool          // false once Close has begun
	wake chan struct{} // a token when out went from empty to not
	stop chan struct{}
	done chan struct{} // closed when the goroutine has stopped
}

// NewSender starts a Sender on conn.
func NewSender(conn *net.UDPConn) (*Sender, error) {
	c, err := NewConn(conn)
	if err != nil {
		return nil, err
	}
	s := &Sender{conn: c, open: true, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// Send queues b, which the Sender now owns, for to (the zero AddrPort on
// a connected socket), from the local address from (see Message.Local;
// the zero Addr: the socket's own). It reports false after Close: the
// caller sends it itself.
func (s *Sender) Send(b []byte, to netip.AddrPort, from netip.Addr) bool {
	s.mu.Lock()
	if !s.open {
		s.mu.Unlock()
		return false
	}
	first := len(s.out) == 0
	s.out = append(s.out, Message{Buf: b, Addr: to, Local: from})
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Close sends what is queued and stops the Sender; it does not close the
// socket.
func (s *Sender) Close() {
	s.mu.Lock()
	if s.open {
		s.open = false
		close(s.stop)
	}
	s.mu.Unlock()
	<-s.done
}

func (s *Sender) run() {
	defer close(s.done)
	var sending []Message
	for {
		stopping := false
		select {
		case <-s.wake:
		case <-s.stop:
			stopping = true
		}
		s.mu.Lock()
		sending, s.out = s.out, sending[:0]
		s.mu.Unlock()
		for rest := sending; len(rest) > 0; {
			chunk := rest[:min(len(rest), BatchSize)]
			sendAll(s.conn, chunk)
			rest = rest[len(chunk):]
		}
		clear(sending) // let go of the datagrams and addresses
		if stopping {
			return
		}
	}
}

// sendAll sends ms in batches. A datagram that cannot be sent is
// skipped, and the rest sent.
func sendAll(c *Conn, ms []Message) {
	for len(ms) > 0 {
		n, err := c.WriteBatch(ms)
		if err != nil && n <= 0 {
			n = 1
		}
		ms = ms[n:]
	}
}
