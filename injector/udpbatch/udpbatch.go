// Package udpbatch serves DNS over UDP in batches: one system call reads
// every query waiting on the socket, up to a batch (recvmmsg), and one
// sends all their answers (sendmmsg). Each query is handled on the
// goroutine that read it, not on a goroutine of its own.
//
// miekg/dns's own server reads one datagram per system call, writes one per
// system call and starts a goroutine per query; under load those system
// calls are most of a DNS server's time. The handlers are the same
// dns.Handler either way: a handler that must wait (on an upstream, say)
// calls Detach on its writer first, and another goroutine takes over the
// batch while it waits.
package udpbatch

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/listen"
)

// BatchSize is the most datagrams one system call reads or writes.
const BatchSize = 64

// readSize is the room for one query. No DNS query comes near it; a
// longer datagram is cut short by the kernel and answered as malformed.
const readSize = 4096

// answerRoom is the room kept for one answer; a longer one (only over
// TCP in practice: UDP answers are truncated to 1232 bytes by the
// handler) is packed into a buffer of its own.
const answerRoom = 2048

// Message is one datagram of a batch.
type Message struct {
	// Buf is the datagram to send, or the room to read one into.
	Buf []byte
	// N is the length read.
	N int
	// Addr is the peer: where a datagram read came from, or where one
	// sent goes. The zero value sends to a connected socket's peer.
	Addr netip.AddrPort
	// Truncated reports that a datagram read was longer than Buf.
	Truncated bool
	// Local, on a socket bound to a wildcard address, is the address a
	// datagram read came to, and the one a datagram sent leaves from (so
	// the client sees its answer come from where it asked); elsewhere the
	// zero Addr.
	Local netip.Addr
}

// Detacher is implemented by the writers the server hands its handler.
type Detacher interface {
	// Detach is called by a handler before it waits: another goroutine
	// takes over reading and answering the other queries, and this
	// query's answer is written on its own whenever it is ready. Calling
	// it again does nothing.
	Detach()
}

// maxSpares bounds the goroutines kept waiting to take over a worker.
const maxSpares = 32

// RawHandler is a dns.Handler that can answer some queries from their
// bytes, without unpacking them: the fast path for answers it knows.
// Unanswered is what ServeRaw returns for a query it drops.
const Unanswered = -1

type RawHandler interface {
	// ServeRaw writes the answer to query into out and returns its length,
	// returns Unanswered to send nothing, or returns 0 to have the query
	// unpacked and passed to ServeDNS. It must not keep query or out.
	ServeRaw(query []byte, from netip.AddrPort, out []byte) int
}

// Server serves one UDP socket in batches.
type Server struct {
	conn    *net.UDPConn
	handler dns.Handler
	raw     RawHandler // nil when handler is not one
	wg      sync.WaitGroup

	// A goroutine whose handler detached waits here, once the handler is
	// done, for the next worker handed off: starting a goroutine for each
	// costs more, mostly in growing its stack.
	spare   chan *worker
	spares  atomic.Int32
	closing chan struct{}

	// late sends the answers written after their batch went out
	// (forwarded, delayed), together.
	late *Sender
}

// CanServe reports whether conn can be served in batches: a UDP socket,
// on Linux. On a socket bound to a wildcard address each answer leaves
// from the address its query came to, by per-packet control messages
// (Message.Local).
func CanServe(conn net.PacketConn) bool {
	_, ok := conn.(*net.UDPConn)
	return ok && runtime.GOOS == "linux"
}

// Serve starts workers goroutines (at least one) reading conn in batches
// and handing each query to h. It returns at once; Close stops them.
func Serve(conn *net.UDPConn, h dns.Handler, workers int) (*Server, error) {
	s := &Server{conn: conn, handler: h, spare: make(chan *worker), closing: make(chan struct{})}
	s.raw, _ = h.(RawHandler)
	wks := make([]*worker, max(workers, 1))
	for i := range wks {
		wk, err := newWorker(s)
		if err != nil {
			return nil, err
		}
		wks[i] = wk
	}
	late, err := NewSender(conn)
	if err != nil {
		return nil, err
	}
	s.late = late
	for _, wk := range wks {
		s.wg.Add(1)
		go s.run(wk)
	}
	return s, nil
}

// Close closes the socket and waits for the goroutines reading it to end.
// Handlers still running after a Detach finish on their own; their
// answers are lost.
func (s *Server) Close() error {
	close(s.closing)
	s.late.Close() // the answers still queued go out first
	err := s.conn.Close()
	s.wg.Wait()
	return err
}

// worker is one batch: the datagrams read, the answers to send, and a
// writer per datagram. One goroutine at a time owns it.
type worker struct {
	s       *Server
	conn    *Conn // this worker's view of the socket
	in      []Message
	out     []Message
	writers []*writer
	answers [][]byte // room for each datagram's answer
	n, next int      // datagrams read, and the next one to handle
}

func newWorker(s *Server) (*worker, error) {
	conn, err := NewConn(s.conn)
	if err != nil {
		return nil, err
	}
	wk := &worker{s: s, conn: conn, in: make([]Message, BatchSize), out: make([]Message, 0, BatchSize),
		writers: make([]*writer, BatchSize), answers: make([][]byte, BatchSize)}
	reads := make([]byte, BatchSize*readSize)
	answers := make([]byte, BatchSize*answerRoom)
	for i := range wk.in {
		wk.in[i].Buf = reads[i*readSize : (i+1)*readSize]
		wk.answers[i] = answers[i*answerRoom : (i+1)*answerRoom]
		wk.writers[i] = &writer{wk: wk, slot: i}
	}
	return wk, nil
}

// run serves batches until the socket is closed. When a handler on this
// goroutine detaches, another goroutine takes the worker on; this one,
// once its handler is done, waits as a spare for a worker handed off
// later, unless enough spares wait already.
func (s *Server) run(wk *worker) {
	defer s.wg.Done()
	for s.serveBatches(wk) {
		if s.spares.Add(1) > maxSpares {
			s.spares.Add(-1)
			return
		}
		select {
		case wk = <-s.spare:
			s.spares.Add(-1)
		case <-s.closing:
			s.spares.Add(-1)
			return
		}
	}
}

// handOff gives wk to a spare goroutine, or to a new one.
func (s *Server) handOff(wk *worker) {
	select {
	case s.spare <- wk:
	default:
		s.wg.Add(1)
		go s.run(wk)
	}
}

// serveBatches reads and handles batches on wk until the socket is closed
// (false) or a handler detaches and gives wk away (true).
func (s *Server) serveBatches(wk *worker) (handedOff bool) {
	for {
		if wk.next == wk.n {
			wk.flush()
			n, err := wk.conn.ReadBatch(wk.in)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return false
				}
				continue // an ICMP error from an earlier send, say
			}
			wk.n, wk.next = n, 0
		}
		i := wk.next
		wk.next++
		if wk.serve(i) {
			return true
		}
	}
}

// serve handles datagram i and reports whether its handler detached, in
// which case this goroutine no longer owns the worker.
func (wk *worker) serve(i int) (handedOff bool) {
	m := &wk.in[i]
	w := wk.writers[i]
	w.peer, w.local, w.remote, w.wrote = m.Addr, m.Local, nil, false
	if raw := wk.s.raw; raw != nil {
		switch n := raw.ServeRaw(m.Buf[:m.N], m.Addr, wk.answers[i]); {
		case n > 0:
			w.wrote = true
			wk.queue(w, wk.answers[i][:n])
			return false
		case n == Unanswered:
			return false
		}
	}
	req, reject := listen.ParseQuery(m.Buf[:m.N])
	switch {
	case reject != nil:
		w.WriteMsg(reject)
		return false
	case req == nil:
		return false // not worth an answer, which could be used to amplify
	}
	wk.s.handler.ServeDNS(w, req)
	return w.handedOff
}

// flush sends the batch's answers.
func (wk *worker) flush() {
	sendAll(wk.conn, wk.out)
	clear(wk.out[:cap(wk.out)]) // let go of the answers
	wk.out = wk.out[:0]
}

// queue adds w's answer b to the batch.
func (wk *worker) queue(w *writer, b []byte) {
	wk.out = append(wk.out, Message{Buf: b, Addr: w.peer, Local: w.local})
}

// detach gives writer w's datagram up: a new writer takes its place for
// the next batch, and w writes on its own from now on.
func (wk *worker) detach(w *writer) {
	wk.writers[w.slot] = &writer{wk: wk, slot: w.slot}
	w.wk = nil
	w.conn, w.late = wk.s.conn, wk.s.late
}
