package listen

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// AnswerRecords serves TLS on raw for an HTTP/2 server (DoH) so that each
// stream's end (a DATA or HEADERS frame with END_STREAM) ends a TLS
// record: every DoH answer is a record of its own. net/http flushes
// whatever frames are ready in one Write, and some DoH clients (dnsperf)
// take one answer per record they read and lose the rest. The records of
// a batch still go out in one system call, within stall, and they are
// written by a goroutine of the connection that lives on, not by
// net/http's goroutine per flush.
//
// The handshake is done on the returned *tls.Conn; HTTP is served on the
// net.Conn, whose Close closes all of it (close it, not the *tls.Conn,
// even when the handshake fails), and which does not implement
// ConnectionState, so net/http serves
// it as a connection whose TLS is done already (unencrypted HTTP/2 in its
// terms).
func AnswerRecords(raw net.Conn, cfg *tls.Config, stall time.Duration) (*tls.Conn, net.Conn) {
	below := &heldConn{Conn: raw}
	tc := tls.Server(below, cfg)
	cc := newCoalescing(tc)
	cc.frames, cc.below, cc.stall = &frameCutter{}, below, stall
	return tc, cc
}

// heldConn gathers the writes made while it is held, and sends them in
// one when released; otherwise it writes through.
type heldConn struct {
	net.Conn
	mu    sync.Mutex
	held  bool
	batch []byte
}

func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.held {
		c.batch = append(c.batch, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *heldConn) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// release sends what was gathered, giving it stall (above zero) to make
// progress.
func (c *heldConn) release(stall time.Duration) error {
	c.mu.Lock()
	b := c.batch
	c.held, c.batch = false, nil
	c.mu.Unlock()
	if len(b) == 0 {
		return nil
	}
	if stall > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(stall))
	}
	_, err := c.Conn.Write(b)
	c.mu.Lock()
	if c.batch == nil {
		c.batch = b[:0] // reuse it next time
	}
	c.mu.Unlock()
	return err
}

// frameCutter follows the HTTP/2 frames in a byte stream written in
// pieces, and finds where streams end.
type frameCutter struct {
	header    [9]byte
	headerLen int
	left      int // payload bytes of the current frame still to come
	endStream bool
}

const (
	frameData    = 0x0
	frameHeaders = 0x1
	flagEnd      = 0x1
)

// cuts appends to out, offset by base, the offsets in p just past each
// frame that ends a stream.
func (f *frameCutter) cuts(p []byte, base int, out []int) []int {
	for i := 0; i < len(p); {
		if f.headerLen < len(f.header) {
			n := copy(f.header[f.headerLen:], p[i:])
			f.headerLen += n
			i += n
			if f.headerLen < len(f.header) {
				break
			}
			h := f.header
			f.left = int(h[0])<<16 | int(h[1])<<8 | int(h[2])
			f.endStream = (h[3] == frameData || h[3] == frameHeaders) && h[4]&flagEnd != 0
		}
		n := min(f.left, len(p)-i)
		f.left -= n
		i += n
		if f.left > 0 {
			break
		}
		f.headerLen = 0 // the frame is whole
		if f.endStream {
			out = append(out, base+i)
		}
	}
	return out
}
