package listen

import "net"

// AnswerPerWrite wraps the TLS connection an HTTP/2 server writes to so
// that each stream's end (a DATA or HEADERS frame with END_STREAM) closes
// a Write to c, and so a TLS record: every DoH answer ends a record of its
// own. net/http flushes whatever frames are ready in one Write, and some
// DoH clients (dnsperf) take one answer per record they read and lose the
// rest; the records still share system calls below TLS (Coalesce).
//
// The wrapper does not implement ConnectionState, so net/http serves it
// as a connection whose TLS is already done (unencrypted HTTP/2 in its
// terms): the handshake is the listener's.
func AnswerPerWrite(c net.Conn) net.Conn { return &answerPerWrite{Conn: c} }

type answerPerWrite struct {
	net.Conn
	// Where the writes are in the frame stream: header bytes of the
	// current frame seen so far, then payload bytes still to come.
	header    [9]byte
	headerLen int
	left      int
	endStream bool
}

const (
	frameData    = 0x0
	frameHeaders = 0x1
	flagEnd      = 0x1
)

// Write implements net.Conn.
func (w *answerPerWrite) Write(p []byte) (int, error) {
	written, from := 0, 0
	for i := 0; i < len(p); {
		if w.headerLen < len(w.header) {
			n := copy(w.header[w.headerLen:], p[i:])
			w.headerLen += n
			i += n
			if w.headerLen < len(w.header) {
				break
			}
			h := w.header
			w.left = int(h[0])<<16 | int(h[1])<<8 | int(h[2])
			w.endStream = (h[3] == frameData || h[3] == frameHeaders) && h[4]&flagEnd != 0
		}
		n := min(w.left, len(p)-i)
		w.left -= n
		i += n
		if w.left > 0 {
			break
		}
		w.headerLen = 0 // the frame is whole
		if w.endStream {
			n, err := w.Conn.Write(p[from:i])
			written += n
			if err != nil {
				return written, err
			}
			from = i
		}
	}
	if from < len(p) {
		n, err := w.Conn.Write(p[from:])
		return written + n, err
	}
	return written, nil
}
