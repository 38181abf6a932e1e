package listen

import (
	"net"
	"sync"
	"time"
)

// Coalescing wraps a listener's connections so that writes made one
// after another go out in one system call: a Write returns once its bytes
// are queued, and a goroutine of the connection sends whatever has queued
// when it runs. Under TLS (DoT, DoH) every answer is a record or an HTTP/2
// frame of its own, written by Go's TLS and HTTP/2 code one call at a
// time; coalesced below TLS, the answers of a busy connection share
// system calls, as nghttp2's and unbound's do.
func Coalescing(ln net.Listener) net.Listener { return coalescingListener{ln} }

type coalescingListener struct{ net.Listener }

func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newCoalescing(c), nil
}

// Coalesce is one connection as Coalescing makes them.
func Coalesce(c net.Conn) net.Conn { return newCoalescing(c) }

func newCoalescing(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, kick: make(chan struct{}, 1), done: make(chan struct{}), flushed: make(chan struct{})}
	go cc.flushLoop()
	return cc
}

// maxQueued bounds the bytes a connection queues: past it, Write waits
// for the queue to be sent, so a client that does not read holds back the
// server's writes as a plain connection would.
const maxQueued = 256 << 10

type coalescingConn struct {
	net.Conn
	// For DoH (AnswerRecords): where answers end in the bytes written,
	// each sent by a Write of its own to Conn (TLS: a record of its own),
	// and the connection below TLS that gathers a batch's records into
	// one send within stall.
	frames *frameCutter
	below  *heldConn
	stall  time.Duration

	mu      sync.Mutex
	queued  []byte
	cuts    []int  // offsets in queued where an answer ends
	sending []byte // the buffer being sent, reused
	sent    []int  // the cuts being sent, reused
	err     error  // the first write error; every later Write returns it
	closed  bool
	drained *sync.Cond

	kick    chan struct{} // bytes were queued
	done    chan struct{} // Close was called
	flushed chan struct{} // the flush loop has ended
}

// Write implements net.Conn.
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.drained == nil {
		c.drained = sync.NewCond(&c.mu)
	}
	for len(c.queued) >= maxQueued && c.err == nil && !c.closed {
		c.drained.Wait()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if c.frames != nil {
		c.cuts = c.frames.cuts(p, len(c.queued), c.cuts)
	}
	c.queued = append(c.queued, p...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flushLoop sends what has queued each time it is woken, until Close.
func (c *coalescingConn) flushLoop() {
	defer close(c.flushed)
	for {
		select {
		case <-c.kick:
			c.flush()
		case <-c.done:
			c.flush()
			return
		}
	}
}

func (c *coalescingConn) flush() {
	c.mu.Lock()
	if len(c.queued) == 0 || c.err != nil {
		c.mu.Unlock()
		return
	}
	b, cuts := c.queued, c.cuts
	c.queued, c.sending = c.sending[:0], nil
	c.cuts, c.sent = c.sent[:0], nil
	c.mu.Unlock()
	var err error
	if c.below == nil {
		_, err = c.Conn.Write(b)
	} else {
		c.below.hold()
		from := 0
		for _, cut := range append(cuts, len(b)) {
			if cut > from && err == nil {
				_, err = c.Conn.Write(b[from:cut])
			}
			from = cut
		}
		if err2 := c.below.release(c.stall); err == nil {
			err = err2
		}
	}
	c.mu.Lock()
	c.sending, c.sent = b[:0], cuts[:0]
	if err != nil && c.err == nil {
		c.err = err
	}
	if c.drained != nil {
		c.drained.Broadcast()
	}
	c.mu.Unlock()
}

// closeGrace bounds how long Close waits for queued bytes to go out: a
// client that stopped reading must not hold a closing server.
const closeGrace = time.Second

// Close sends what is queued, then closes the connection.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	if c.drained != nil {
		c.drained.Broadcast()
	}
	c.mu.Unlock()
	close(c.done)
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.flushed:
		return c.Conn.Close()
	case <-t.C:
		err := c.Conn.Close() // unblocks the write in progress
		<-c.flushed
		return err
	}
}
