package listen

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Gated is a connection a Gate keeps count of.
type Gated interface {
	// IdleSince is when the connection last did anything (unix
	// nanoseconds), and whether it is idle now: nothing in flight.
	IdleSince() (since int64, idle bool)
	// Evict closes the connection to make room for a new one.
	Evict()
}

// Gate bounds a stream listener's connections, per client address and in
// all, so that one greedy or slow client cannot lock out the others: a
// client over its share is turned away, and at the overall bound the
// connection idle longest gives way (or the new one is turned away when
// none is idle). TCP, DoT and DoH each keep one.
type Gate struct {
	max, perClient int

	mu       sync.Mutex
	closed   bool
	conns    map[Gated]netip.Addr
	byClient map[netip.Addr]int
}

// NewGate admits at most max connections, perClient of them from one
// address.
func NewGate(max, perClient int) *Gate {
	return &Gate{max: max, perClient: perClient, conns: map[Gated]netip.Addr{}, byClient: map[netip.Addr]int{}}
}

// Admit counts c in for client, or says false when there is no room (the
// caller closes c then).
func (g *Gate) Admit(client netip.Addr, c Gated) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.byClient[client] >= g.perClient {
		return false
	}
	if len(g.conns) >= g.max && !g.evictIdleLocked() {
		return false
	}
	g.conns[c] = client
	g.byClient[client]++
	return true
}

// evictIdleLocked evicts the connection idle longest, if one is idle.
func (g *Gate) evictIdleLocked() bool {
	var oldest Gated
	var oldestSince int64
	for c := range g.conns {
		if since, idle := c.IdleSince(); idle && (oldest == nil || since < oldestSince) {
			oldest, oldestSince = c, since
		}
	}
	if oldest == nil {
		return false
	}
	g.forgetLocked(oldest)
	oldest.Evict()
	return true
}

// Forget counts c out; it is safe to call more than once.
func (g *Gate) Forget(c Gated) {
	g.mu.Lock()
	g.forgetLocked(c)
	g.mu.Unlock()
}

func (g *Gate) forgetLocked(c Gated) {
	client, ok := g.conns[c]
	if !ok {
		return
	}
	delete(g.conns, c)
	if g.byClient[client]--; g.byClient[client] <= 0 {
		delete(g.byClient, client)
	}
}

// Close turns every later connection away and evicts the open ones.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	open := make([]Gated, 0, len(g.conns))
	for c := range g.conns {
		open = append(open, c)
	}
	g.mu.Unlock()
	for _, c := range open {
		c.Evict()
	}
}

// Open is the number of connections counted in now.
func (g *Gate) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// AcceptAll hands each connection ln accepts to serve until ln closes.
// Past a failure that is not the close (out of file descriptors, say) it
// waits a little, doubling up to a second, as net/http does, rather than
// spin.
func AcceptAll(ln net.Listener, serve func(net.Conn)) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		serve(c)
	}
}

// ClientOf is a connection's client address, for a Gate.
func ClientOf(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// StreamConnCap is how many connections each of n stream listeners (TCP,
// DoT, DoH) may hold: want, within half the process's file descriptors
// shared among them; the rest are for UDP, upstreams, the control API and
// the files it writes.
func StreamConnCap(want, n int) int {
	if limit := OpenFileLimit(); limit > 0 {
		want = min(want, limit/2/max(n, 1))
	}
	return max(want, 1)
}
