// Package dnstap writes what dnsfault answers as dnstap (dnstap.info),
// the format BIND, Knot, Unbound, CoreDNS and the others emit, so the
// tools operators already read it with (dnstap-read, dnstap-ldns) show
// dnsfault's traffic, and which answers were faults.
//
// A Writer never blocks the query it records: frames are encoded on the
// answering goroutine (protowire, no reflection) straight into a pending
// buffer, which a goroutine of its own swaps out and writes: to a file
// in large writes, to a socket through golang-dnstap's Frame Streams
// output. A frame that finds the pending buffer full is dropped and
// counted.
package dnstap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/encoding/protowire"
)

// MaxPending is how many bytes of frames wait for the output before new
// ones are dropped: about half a second of a busy server's traffic.
const MaxPending = 16 << 20

// flushAt is how full the pending buffer gets before the writer is woken
// ahead of its tick.
const flushAt = 256 << 10

// fileFlush is how often what is pending is written when the server is
// quiet.
const fileFlush = 200 * time.Millisecond

// CloseGrace is how long Close waits for a socket's reader to take what
// is pending; past it, the rest is dropped and Close returns.
const CloseGrace = 5 * time.Second

// Writer sends dnstap frames to one output.
type Writer struct {
	identity []byte
	file     *os.File      // a file output, or
	out      dnstap.Output // a socket's

	mu      sync.Mutex
	pending []byte // frames, each after its length, not yet written

	wake    chan struct{} // pending is full: write it now
	stop    chan struct{}
	done    chan struct{}
	abandon chan struct{} // Close gave up waiting for the output
	close   sync.Once
	giveUp  sync.Once
	dropped atomic.Uint64
}

// Open starts a Writer on spec: file:PATH, unix:PATH or tcp:HOST:PORT.
// identity names the server in each frame (its host name, say).
func Open(spec, identity string) (*Writer, error) {
	kind, where, ok := strings.Cut(spec, ":")
	if !ok || where == "" {
		return nil, fmt.Errorf("--dnstap %q: give file:PATH, unix:PATH or tcp:HOST:PORT", spec)
	}
	w := &Writer{identity: []byte(identity), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), abandon: make(chan struct{})}
	var err error
	switch kind {
	case "file":
		w.file, err = os.Create(where)
	case "unix":
		w.out, err = sockOutput(&net.UnixAddr{Name: where, Net: "unix"})
	case "tcp":
		var addr *net.TCPAddr
		if addr, err = net.ResolveTCPAddr("tcp", where); err == nil {
			w.out, err = sockOutput(addr)
		}
	default:
		return nil, fmt.Errorf("--dnstap %q: give file:PATH, unix:PATH or tcp:HOST:PORT", spec)
	}
	if err != nil {
		return nil, fmt.Errorf("--dnstap %q: %w", spec, err)
	}
	if w.out != nil {
		go w.out.RunOutputLoop()
	}
	go w.run()
	return w, nil
}

// sockOutput is a Frame Streams socket output that gives up on a reader
// that stops reading (and dials again), rather than waiting for ever.
func sockOutput(addr net.Addr) (dnstap.Output, error) {
	out, err := dnstap.NewFrameStreamSockOutput(addr)
	if err != nil {
		return nil, err
	}
	out.SetTimeout(CloseGrace)
	out.SetRetryInterval(time.Second)
	out.SetDialer(&net.Dialer{Timeout: CloseGrace})
	return out, nil
}

// run writes what is pending when it fills, every fileFlush, and at
// Close.
func (w *Writer) run() {
	defer close(w.done)
	var file *bufio.Writer
	if w.file != nil {
		file = bufio.NewWriterSize(w.file, flushAt)
		file.Write(control(2, dnstap.FSContentType)) // START
	}
	tick := time.NewTicker(fileFlush)
	defer tick.Stop()
	var spare []byte
	for stopping := false; !stopping; {
		select {
		case <-w.wake:
		case <-tick.C:
		case <-w.stop:
			stopping = true
		}
		w.mu.Lock()
		batch := w.pending
		w.pending = spare[:0]
		w.mu.Unlock()
		if file != nil {
			file.Write(batch)
			file.Flush()
		} else {
			w.toSocket(batch)
		}
		spare = batch
	}
	if file != nil {
		file.Write(control(3, nil)) // STOP
		file.Flush()
		w.file.Close()
		return
	}
	select {
	case <-w.abandon: // the output is stuck on a reader that is not there
	default:
		w.out.Close() // flushes what is written
	}
}

// toSocket hands batch's frames to the socket output, which keeps them
// and may block on a slow reader, until Close gives up on it.
func (w *Writer) toSocket(batch []byte) {
	ch := w.out.GetOutputChannel()
	for len(batch) >= 4 {
		n := binary.BigEndian.Uint32(batch)
		frame := append([]byte(nil), batch[4:4+n]...)
		batch = batch[4+n:]
		select {
		case ch <- frame:
		case <-w.abandon:
			w.dropped.Add(1)
		}
	}
}

// control is a Frame Streams control frame: START (2) with its content
// type, or STOP (3).
func control(typ uint32, contentType []byte) []byte {
	var fields []byte
	if contentType != nil {
		fields = binary.BigEndian.AppendUint32(fields, 1) // CONTENT_TYPE
		fields = binary.BigEndian.AppendUint32(fields, uint32(len(contentType)))
		fields = append(fields, contentType...)
	}
	frame := binary.BigEndian.AppendUint32(make([]byte, 4), uint32(4+len(fields))) // an escape, then the length
	frame = binary.BigEndian.AppendUint32(frame, typ)
	return append(frame, fields...)
}

// Close writes what is pending and closes the output; a socket whose
// reader does not take it within CloseGrace loses the rest.
func (w *Writer) Close() {
	w.close.Do(func() { close(w.stop) })
	select {
	case <-w.done:
	case <-time.After(CloseGrace):
		w.giveUp.Do(func() { close(w.abandon) })
		<-w.done
	}
}

// Dropped is how many frames were dropped because the output was behind.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

type Exchange struct {
	Query, Response []byte // wire format; Response nil: no answer was sent
	Asked, Answered time.Time
	// From is who asked (the client, or dnsfault), To who answered.
	From, To netip.AddrPort
	// Protocol is the dnstap socket protocol: "udp", "tcp", "dot" or "doh".
	Protocol string
	// Phase, Rule and Action say what dnsfault did, in the extra of the
	// response's frame ("dnsfault phase=P rule=R action=A"; "-" for
	// none); all empty: no extra (a forwarded exchange).
	Phase, Rule, Action string
}

// extra is the text of e's extra, appended to b.
func (e *Exchange) extra(b []byte) []byte {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	b = append(b, "dnsfault phase="...)
	b = append(b, dash(e.Phase)...)
	b = append(b, " rule="...)
	b = append(b, dash(e.Rule)...)
	b = append(b, " action="...)
	return append(b, dash(e.Action)...)
}

// extraLen is len(e.extra(nil)), without making it.
func (e *Exchange) extraLen() int {
	n := len("dnsfault phase= rule= action=")
	for _, s := range []string{e.Phase, e.Rule, e.Action} {
		n += max(len(s), 1)
	}
	return n
}

// hasExtra tells whether e's response frame carries an extra.
func (e *Exchange) hasExtra() bool { return e.Action != "" }

// The dnstap message types dnsfault writes.
const (
	clientQuery       = 5
	clientResponse    = 6
	forwarderQuery    = 7
	forwarderResponse = 8
)

// Client writes a CLIENT_QUERY and, when an answer was sent, a
// CLIENT_RESPONSE with the extra.
func (w *Writer) Client(e *Exchange) { w.send(e, clientQuery, clientResponse) }

// Forwarder writes a FORWARDER_QUERY and, when the upstream answered, a
// FORWARDER_RESPONSE.
func (w *Writer) Forwarder(e *Exchange) { w.send(e, forwarderQuery, forwarderResponse) }

// send encodes the exchange's frames, each after its length as Frame
// Streams writes it, straight into the buffer the writer takes next: no
// allocation, no channel, one short lock.
func (w *Writer) send(e *Exchange, query, response uint64) {
	qm := w.messageSize(e, false)
	size := 4 + w.frameSize(e, qm, false)
	rm := 0
	if e.Response != nil {
		rm = w.messageSize(e, true)
		size += 4 + w.frameSize(e, rm, true)
	}
	w.mu.Lock()
	if len(w.pending)+size > MaxPending {
		w.mu.Unlock()
		w.dropped.Add(1)
		if e.Response != nil {
			w.dropped.Add(1)
		}
		return
	}
	b := w.framed(w.pending, query, e, false, qm)
	if e.Response != nil {
		b = w.framed(b, response, e, true, rm)
	}
	w.pending = b
	full := len(b) >= flushAt
	w.mu.Unlock()
	if full {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// frameSize is the length of one Dnstap message around a Message of
// length m.
func (w *Writer) frameSize(e *Exchange, m int, response bool) int {
	n := protowire.SizeTag(1) + protowire.SizeBytes(len(w.identity)) +
		protowire.SizeTag(14) + protowire.SizeBytes(m) + protowire.SizeTag(15) + protowire.SizeVarint(1)
	if response && e.hasExtra() {
		// In extra, where dnstap.proto puts annotations, and in version,
		// which dnstap-read -y and dnstap-ldns -y print (they print no
		// extra).
		n += 2 * (protowire.SizeTag(3) + protowire.SizeBytes(e.extraLen()))
	}
	return n
}

// framed appends to b the frame of one Dnstap message, after its length;
// m is the length of its Message.
func (w *Writer) framed(b []byte, typ uint64, e *Exchange, response bool, m int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(w.frameSize(e, m, response)))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, w.identity)
	if response && e.hasExtra() {
		for _, field := range []protowire.Number{2, 3} { // version, extra
			b = protowire.AppendTag(b, field, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(e.extraLen()))
			b = e.extra(b)
		}
	}
	b = protowire.AppendTag(b, 14, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(m))
	b = w.message(b, typ, e, response)
	b = protowire.AppendTag(b, 15, protowire.VarintType)
	return protowire.AppendVarint(b, 1) // MESSAGE
}

// messageSize is the length of the Message that message appends.
func (w *Writer) messageSize(e *Exchange, response bool) int {
	n := 6 // type, family and protocol: a tag and a one-byte value each
	for _, a := range []netip.AddrPort{e.From, e.To} {
		if a.IsValid() {
			n += 2 + addrLen(a.Addr()) + 1 + protowire.SizeVarint(uint64(a.Port()))
		}
	}
	n += 1 + protowire.SizeVarint(uint64(e.Asked.Unix())) + 5
	if !response {
		return n + 1 + protowire.SizeBytes(len(e.Query))
	}
	return n + 1 + protowire.SizeVarint(uint64(e.Answered.Unix())) + 5 + 1 + protowire.SizeBytes(len(e.Response))
}

// Each field's tag, as one byte: its number shifted by 3, then its wire
// type: 0 (a varint, left out below), 2 (bytes) or 5 (a fixed32).
const (
	tagType, tagFamily, tagProtocol                     = 1 << 3, 2 << 3, 3 << 3
	tagQueryAddress, tagResponseAddress                 = 4<<3 | 2, 5<<3 | 2
	tagQueryPort, tagResponsePort                       = 6 << 3, 7 << 3
	tagQueryTimeSec, tagQueryTimeNsec, tagQueryMessage  = 8 << 3, 9<<3 | 5, 10<<3 | 2
	tagResponseSec, tagResponseNsec, tagResponseMessage = 12 << 3, 13<<3 | 5, 14<<3 | 2
)

// message appends one Message (dnstap.proto): the query's in a query's
// frame, the response's in a response's. The hot path of --dnstap: bytes
// appended directly, no allocation.
func (w *Writer) message(m []byte, typ uint64, e *Exchange, response bool) []byte {
	family := byte(1) // INET
	if a := e.From.Addr(); a.Is6() && !a.Is4In6() {
		family = 2 // INET6
	}
	m = append(m, tagType, byte(typ), tagFamily, family, tagProtocol, byte(protocol(e.Protocol)))
	if e.From.IsValid() {
		m = appendAddr(m, tagQueryAddress, e.From.Addr())
		m = protowire.AppendVarint(append(m, tagQueryPort), uint64(e.From.Port()))
	}
	if e.To.IsValid() {
		m = appendAddr(m, tagResponseAddress, e.To.Addr())
		m = protowire.AppendVarint(append(m, tagResponsePort), uint64(e.To.Port()))
	}
	m = protowire.AppendVarint(append(m, tagQueryTimeSec), uint64(e.Asked.Unix()))
	m = binary.LittleEndian.AppendUint32(append(m, tagQueryTimeNsec), uint32(e.Asked.Nanosecond()))
	if !response {
		return append(protowire.AppendVarint(append(m, tagQueryMessage), uint64(len(e.Query))), e.Query...)
	}
	m = protowire.AppendVarint(append(m, tagResponseSec), uint64(e.Answered.Unix()))
	m = binary.LittleEndian.AppendUint32(append(m, tagResponseNsec), uint32(e.Answered.Nanosecond()))
	return append(protowire.AppendVarint(append(m, tagResponseMessage), uint64(len(e.Response))), e.Response...)
}

// addrLen is how many bytes an address takes in a frame: 4 for IPv4 (a
// mapped one too), 16 for IPv6.
func addrLen(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 16
}

// appendAddr appends the bytes field tag holding address a.
func appendAddr(m []byte, tag byte, a netip.Addr) []byte {
	if a = a.Unmap(); a.Is4() {
		b := a.As4()
		return append(append(m, tag, 4), b[:]...)
	}
	b := a.As16()
	return append(append(m, tag, 16), b[:]...)
}

// protocol is the dnstap SocketProtocol of a transport's name.
func protocol(name string) uint64 {
	switch name {
	case "tcp":
		return 2
	case "dot":
		return 3
	case "doh":
		return 4
	}
	return 1 // udp
}
