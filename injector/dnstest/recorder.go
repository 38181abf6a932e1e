package dnstest

import (
	"net"
	"sync"

	"github.com/miekg/dns"
)

// Recorder is a dns.ResponseWriter that keeps what a handler writes, so a
// handler can be tested in process, without sockets. A handler that
// hijacks it (to answer after returning) writes later: Done is closed by
// the first write, or by Close.
type Recorder struct {
	// Remote is the client's address the handler sees (default
	// 127.0.0.1:40000 over UDP); set it before the first use.
	Remote net.Addr

	mu       sync.Mutex
	msgs     []*dns.Msg
	raw      [][]byte
	hijacked bool
	done     chan struct{}
	doneOnce sync.Once
}

var _ dns.ResponseWriter = (*Recorder)(nil)

// NewRecorder returns a Recorder for a client at remote (nil: the
// default).
func NewRecorder(remote net.Addr) *Recorder {
	if remote == nil {
		remote = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	}
	return &Recorder{Remote: remote, done: make(chan struct{})}
}

// WriteMsg implements dns.ResponseWriter. It keeps a packed and unpacked
// copy, so the message is recorded as it went out.
func (r *Recorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	sent := new(dns.Msg)
	if err := sent.Unpack(b); err != nil {
		return err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, sent)
	r.mu.Unlock()
	r.finish()
	return nil
}

// Write implements dns.ResponseWriter: bytes that may not be a message.
func (r *Recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.raw = append(r.raw, append([]byte(nil), b...))
	r.mu.Unlock()
	r.finish()
	return len(b), nil
}

func (r *Recorder) finish() { r.doneOnce.Do(func() { close(r.done) }) }

// Close implements dns.ResponseWriter; it closes Done if nothing was
// written.
func (r *Recorder) Close() error {
	r.finish()
	return nil
}

// Done is closed once the handler wrote its answer, or closed the writer.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Msgs are the messages written, in order.
func (r *Recorder) Msgs() []*dns.Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*dns.Msg(nil), r.msgs...)
}

// Raw are the byte strings written with Write, in order.
func (r *Recorder) Raw() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.raw...)
}

// Hijacked tells whether the handler took the writer over to answer
// after returning.
func (r *Recorder) Hijacked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hijacked
}

// Hijack implements dns.ResponseWriter.
func (r *Recorder) Hijack() {
	r.mu.Lock()
	r.hijacked = true
	r.mu.Unlock()
}

// LocalAddr implements dns.ResponseWriter.
func (r *Recorder) LocalAddr() net.Addr {
	if _, ok := r.Remote.(*net.TCPAddr); ok {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}

// RemoteAddr implements dns.ResponseWriter.
func (r *Recorder) RemoteAddr() net.Addr { return r.Remote }

// Network implements dns.ResponseWriter's optional method.
func (r *Recorder) Network() string { return r.Remote.Network() }

// TsigStatus implements dns.ResponseWriter.
func (r *Recorder) TsigStatus() error { return nil }

// TsigTimersOnly implements dns.ResponseWriter.
func (r *Recorder) TsigTimersOnly(bool) {}
