// Package h2 is a small HTTP/2 server (RFC 9113) for DNS over HTTPS: it
// reads requests with bodies of a DNS message's size, answers each from a
// goroutine of its own as DNS over TCP does, and writes the answers of a
// busy connection together, in one TLS record. net/http's server, which
// it replaces for HTTP/2, spends most of a DoH query in machinery a DNS
// answer does not need (a serve loop fed by channels, a write scheduler,
// a header map per request); HTTP/1.1 stays with net/http.
//
// Frames are read and written by golang.org/x/net/http2's Framer and
// HPACK coder. What the server does not offer: server push, priorities
// (ignored, as RFC 9113 allows), request bodies over MaxBody.
package h2

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Request is one request: its pseudo-headers, content type and body.
type Request struct {
	Method, Path, Authority, ContentType string
	Body                                 []byte
	// TooLarge says the body was over MaxBody (Body is then empty).
	TooLarge      bool
	Remote, Local net.Addr
}

// Response is what a request gets. Header names are lower case; the
// server adds content-length.
type Response struct {
	Status int
	Header []hpack.HeaderField
	Body   []byte
}

// Handler answers a request; nil means no answer at all (the stream
// stays open until the client resets it or the connection ends).
type Handler func(*Request) *Response

// Server serves HTTP/2 connections whose TLS handshake chose "h2".
type Server struct {
	Handler Handler
	// MaxConcurrentStreams bounds the streams a client may have open on a
	// connection (default 256); more are refused (REFUSED_STREAM).
	MaxConcurrentStreams uint32
	// IdleTimeout closes a connection that has sent nothing for that long
	// and has no request open (default: never).
	IdleTimeout time.Duration
	// MaxBody bounds a request's body (default 65535, a DNS message).
	MaxBody int

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// The server's own settings.
const (
	maxHeaderListSize = 16 << 10
	maxReadFrameSize  = 16 << 10
	// connWindow is the flow-control window of a connection for request
	// bodies: what it may have buffered in all. A body's bytes are given
	// back when its request is handed to the handler (or dropped). Each
	// stream keeps the default window, 65,535 bytes: a DNS message's
	// largest size, so one body never needs more.
	connWindow = 1 << 20
	// writeTimeout bounds one write to the client: one that does not read
	// loses its connection.
	writeTimeout = 10 * time.Second
	// maxQueued bounds the bytes waiting to be written: past it, answers
	// wait.
	maxQueued = 1 << 20
	// keptBuffer is the most a connection keeps allocated for its writes
	// between bursts.
	keptBuffer = 64 << 10
)

// errClosed is why ServeConn returns after Close.
var errClosed = errors.New("h2: server closed")

// ServeConn serves c, a connection whose TLS handshake is done, until it
// ends; it closes c.
func (s *Server) ServeConn(c net.Conn) error {
	cn := &conn{
		srv: s, nc: c, streams: map[uint32]*stream{},
		sendWindow: 65535, peerInitialWindow: 65535, peerMaxFrame: 16384,
		kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	cn.drained = sync.NewCond(&cn.mu)
	cn.wfr = http2.NewFramer(&cn.out, nil)
	cn.enc = hpack.NewEncoder(&cn.hbuf)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return errClosed
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[cn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, cn)
		s.mu.Unlock()
	}()
	return cn.serve()
}

// Shutdown sends every connection a GOAWAY, waits until the requests
// being answered are answered (or ctx ends), and closes the connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAway(http2.ErrCodeNo, false)
	}
	var err error
	for _, c := range conns {
		answered := make(chan struct{})
		go func() { c.handlers.Wait(); close(answered) }()
		select {
		case <-answered:
		case <-ctx.Done():
			err = ctx.Err()
		}
		c.goAway(http2.ErrCodeNo, true)
	}
	return err
}

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams == 0 {
		return 256
	}
	return s.MaxConcurrentStreams
}

func (s *Server) maxBody() int {
	if s.MaxBody == 0 {
		return 65535
	}
	return s.MaxBody
}

// conn is one client connection. Its reader goroutine reads frames; each
// complete request is answered from a goroutine of its own; answers are
// framed into out under mu, and the flusher goroutine writes out whole.
type conn struct {
	srv *Server
	nc  net.Conn

	mu      sync.Mutex
	drained *sync.Cond // out was written
	out     bytes.Buffer
	spare   []byte
	// bounds are the ends, in out, of what each flushLocked added: one
	// answer (or a few control frames) each, written as a TLS record of
	// its own. Some clients (dnsperf) read one answer per record.
	bounds      []int
	spareBounds []int
	wfr         *http2.Framer
	enc         *hpack.Encoder
	hbuf        bytes.Buffer
	streams     map[uint32]*stream
	// Flow control of what the server sends: the connection's window,
	// and the window each new stream starts with.
	sendWindow        int64
	peerInitialWindow int64
	peerMaxFrame      int
	blocked           []*stream // streams with data waiting for window
	lastStream        uint32    // the highest stream the client opened
	recvWindow        int64     // what the client may still send in DATA
	goingAway         bool      // a GOAWAY was sent: no new streams
	closing           bool      // close once out is written
	writeErr          error
	handlers          sync.WaitGroup // requests being answered
	// orphans are the requests whose streams the client reset while
	// their answers were being made: they count against the streams a
	// client may open until they are done.
	orphans int

	kick chan struct{} // out has bytes
	done chan struct{} // the connection is closing
	once sync.Once

	lastRead time.Time // when the last frame came, for the idle timer; under mu
}

// stream is one request and its answer.
type stream struct {
	id      uint32
	req     Request
	body    bytes.Buffer
	window  int64  // what the server may still send on it
	held    uint32 // body bytes buffered, owed back to the connection's window
	pending []byte // answer bytes waiting for window
	started bool   // handed to the handler
	running bool   // the handler is making its answer
	orphan  bool   // reset by the client while running
}

var clientPreface = []byte(http2.ClientPreface)

// prefaceTimeout bounds the wait for the client's preface, so a
// connection that says nothing does not hold its slot.
const prefaceTimeout = 10 * time.Second

func (c *conn) serve() error {
	defer c.close()
	go c.flushLoop()
	br := bufio.NewReaderSize(c.nc, 16<<10)
	c.nc.SetReadDeadline(time.Now().Add(prefaceTimeout))
	preface := make([]byte, len(clientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || !bytes.Equal(preface, clientPreface) {
		return errors.New("h2: no client preface")
	}
	c.nc.SetReadDeadline(time.Time{})
	if d := c.srv.IdleTimeout; d > 0 {
		c.lastRead = time.Now()
		idle := time.AfterFunc(d, func() { c.idleCheck(d) })
		defer idle.Stop()
	}
	rfr := http2.NewFramer(nil, br)
	rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rfr.MaxHeaderListSize = maxHeaderListSize
	rfr.SetMaxReadFrameSize(maxReadFrameSize)

	c.mu.Lock()
	c.wfr.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.srv.maxStreams()},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: maxHeaderListSize},
	)
	c.wfr.WriteWindowUpdate(0, connWindow-65535)
	c.recvWindow = connWindow
	c.flushLocked()
	c.mu.Unlock()

	for {
		f, err := rfr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.resetStream(se.StreamID, se.Code)
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				c.goAway(http2.ErrCode(ce), true)
				<-c.done // the GOAWAY is written, or the write timed out
			}
			return err
		}
		if c.srv.IdleTimeout > 0 {
			c.mu.Lock()
			c.lastRead = time.Now()
			c.mu.Unlock()
		}
		if err := c.handle(f); err != nil {
			if err != io.EOF {
				code := http2.ErrCodeProtocol
				if err == errFlowControl {
					code = http2.ErrCodeFlowControl
				}
				c.goAway(code, true)
				<-c.done
			}
			return err
		}
	}
}

// idleCheck closes the connection when it has been idle for d, with no
// request open (an answer being made, or a dropped query the client still
// waits for); otherwise it looks again when d could next have passed.
func (c *conn) idleCheck(d time.Duration) {
	c.mu.Lock()
	quiet := time.Since(c.lastRead)
	open := len(c.streams) > 0 || c.orphans > 0
	c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	if quiet >= d && !open {
		c.goAway(http2.ErrCodeNo, true)
		return
	}
	next := d - quiet
	if next <= 0 {
		next = d // busy, not idle: look again a whole period on
	}
	time.AfterFunc(next, func() { c.idleCheck(d) })
}

// errProtocol and errFlowControl are connection errors: the client broke
// RFC 9113, or sent more than its window.
var (
	errProtocol    = errors.New("h2: protocol error")
	errFlowControl = errors.New("h2: flow-control window exceeded")
)

// handle acts on one frame from the client.
func (c *conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		err := f.ForeachSetting(func(s http2.Setting) error {
			switch s.ID {
			case http2.SettingInitialWindowSize:
				delta := int64(s.Val) - c.peerInitialWindow
				c.peerInitialWindow = int64(s.Val)
				for _, st := range c.streams {
					st.window += delta
				}
			case http2.SettingMaxFrameSize:
				c.peerMaxFrame = int(s.Val)
			case http2.SettingHeaderTableSize:
				c.enc.SetMaxDynamicTableSizeLimit(s.Val)
			}
			return nil
		})
		c.wfr.WriteSettingsAck()
		c.sendBlocked()
		c.flushLocked()
		return err
	case *http2.MetaHeadersFrame:
		return c.headers(f)
	case *http2.DataFrame:
		return c.data(f)
	case *http2.WindowUpdateFrame:
		c.mu.Lock()
		defer c.mu.Unlock()
		if f.StreamID == 0 {
			c.sendWindow += int64(f.Increment)
		} else if st := c.streams[f.StreamID]; st != nil {
			st.window += int64(f.Increment)
		}
		c.sendBlocked()
		c.flushLocked()
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		c.mu.Lock()
		c.wfr.WritePing(true, f.Data)
		c.flushLocked()
		c.mu.Unlock()
	case *http2.RSTStreamFrame:
		c.mu.Lock()
		c.forget(f.StreamID)
		c.mu.Unlock()
	case *http2.GoAwayFrame:
		return io.EOF // the client is done: answers in flight are lost, as it asked
	case *http2.PushPromiseFrame:
		return errProtocol
	}
	return nil // PRIORITY, unknown frames: ignored
}

// headers opens a stream for a request (or ends one with trailers).
func (c *conn) headers(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		// Trailers: they end the request, and are not read.
		c.mu.Unlock()
		if !f.StreamEnded() {
			return errProtocol
		}
		c.start(id)
		return nil
	}
	if id%2 == 0 || id <= c.lastStream {
		c.mu.Unlock()
		return errProtocol
	}
	c.lastStream = id
	if c.goingAway {
		c.mu.Unlock()
		return nil
	}
	// Streams the client reset still count while their answers are being
	// made: opening and resetting streams cannot pile up work.
	if uint32(len(c.streams)+c.orphans) >= c.srv.maxStreams() {
		c.wfr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
		c.flushLocked()
		c.mu.Unlock()
		return nil
	}
	st := &stream{id: id, window: c.peerInitialWindow}
	st.req.Remote, st.req.Local = c.nc.RemoteAddr(), c.nc.LocalAddr()
	for _, hf := range f.Fields {
		switch hf.Name {
		case ":method":
			st.req.Method = hf.Value
		case ":path":
			st.req.Path = hf.Value
		case ":authority":
			st.req.Authority = hf.Value
		case "content-type":
			st.req.ContentType = hf.Value
		}
	}
	if st.req.Method == "" || st.req.Path == "" || f.Truncated {
		c.wfr.WriteRSTStream(id, http2.ErrCodeProtocol)
		c.flushLocked()
		c.mu.Unlock()
		return nil
	}
	c.streams[id] = st
	c.mu.Unlock()
	if f.StreamEnded() {
		c.start(id)
	}
	return nil
}

// data adds a DATA frame to its stream's body. The connection's window
// is given back for what is not kept (padding, bodies no stream wants)
// at once, and for a body when its request starts.
func (c *conn) data(f *http2.DataFrame) error {
	c.mu.Lock()
	c.recvWindow -= int64(f.Length)
	if c.recvWindow < 0 {
		c.mu.Unlock()
		return errFlowControl
	}
	st := c.streams[f.StreamID]
	if st == nil || st.started {
		c.giveBack(f.Length)
		c.mu.Unlock()
		if f.StreamID > c.lastStream {
			return errProtocol // DATA on a stream never opened
		}
		return nil // a stream already reset or answered
	}
	if !st.req.TooLarge && st.body.Len()+len(f.Data()) > c.srv.maxBody() {
		// Over MaxBody: the request is answered as too large, and
		// nothing more of its body is kept.
		st.req.TooLarge = true
		st.body = bytes.Buffer{}
		c.giveBack(st.held)
		st.held = 0
	}
	kept := uint32(0)
	if !st.req.TooLarge {
		st.body.Write(f.Data())
		kept = uint32(len(f.Data()))
	}
	c.giveBack(f.Length - kept)
	st.held += kept
	c.mu.Unlock()
	if f.StreamEnded() {
		c.start(f.StreamID)
	}
	return nil
}

// start hands a complete request to the handler, in a goroutine of its
// own: a delayed answer must not hold up the others.
func (c *conn) start(id uint32) {
	c.mu.Lock()
	st := c.streams[id]
	if st == nil || st.started {
		c.mu.Unlock()
		return
	}
	st.started = true
	st.req.Body = st.body.Bytes()
	c.giveBack(st.held)
	st.held = 0
	c.handlers.Add(1)
	st.running = true
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			st.running = false
			if st.orphan {
				c.orphans--
			}
			c.mu.Unlock()
			c.handlers.Done()
		}()
		resp := c.srv.Handler(&st.req)
		if resp != nil {
			c.respond(st, resp)
		}
	}()
}

// respond frames resp on its stream, as far as the client's windows let
// it, and has it written.
func (c *conn) respond(st *stream, resp *Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.out.Len() >= maxQueued && c.writeErr == nil {
		c.drained.Wait()
	}
	if c.streams[st.id] != st || c.writeErr != nil {
		return // reset by the client, or the connection is gone
	}
	c.hbuf.Reset()
	c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(resp.Status)})
	for _, hf := range resp.Header {
		c.enc.WriteField(hf)
	}
	c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(resp.Body))})
	block := c.hbuf.Bytes()
	first := min(len(block), c.peerMaxFrame)
	c.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: block[:first], EndStream: len(resp.Body) == 0, EndHeaders: first == len(block)})
	for rest := block[first:]; len(rest) > 0; {
		n := min(len(rest), c.peerMaxFrame)
		c.wfr.WriteContinuation(st.id, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	if len(resp.Body) == 0 {
		delete(c.streams, st.id)
	} else {
		st.pending = resp.Body
		if !c.sendData(st) {
			c.blocked = append(c.blocked, st)
		}
	}
	c.flushLocked()
}

// sendData frames what the windows allow of st's pending answer; true
// once it is all sent (the stream is then done).
func (c *conn) sendData(st *stream) bool {
	for len(st.pending) > 0 {
		n := int64(min(len(st.pending), c.peerMaxFrame))
		n = min(n, c.sendWindow, st.window)
		if n <= 0 {
			return false
		}
		end := int(n) == len(st.pending)
		c.wfr.WriteData(st.id, end, st.pending[:n])
		st.pending = st.pending[n:]
		c.sendWindow -= n
		st.window -= n
	}
	delete(c.streams, st.id)
	return true
}

// sendBlocked sends what the windows now allow of the blocked streams.
func (c *conn) sendBlocked() {
	kept := c.blocked[:0]
	for _, st := range c.blocked {
		if c.streams[st.id] == st && !c.sendData(st) {
			kept = append(kept, st)
		}
	}
	c.blocked = kept
}

// forget drops a stream the client reset.
func (c *conn) forget(id uint32) {
	if st := c.streams[id]; st != nil {
		c.giveBack(st.held)
		delete(c.streams, id)
		if st.running {
			st.orphan = true
			c.orphans++
		}
	}
}

// giveBack returns n bytes to the connection's receive window; mu is held.
func (c *conn) giveBack(n uint32) {
	if n == 0 {
		return
	}
	c.recvWindow += int64(n)
	c.wfr.WriteWindowUpdate(0, n)
	c.flushLocked()
}

func (c *conn) resetStream(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	c.forget(id)
	c.wfr.WriteRSTStream(id, code)
	c.flushLocked()
	c.mu.Unlock()
}

// goAway tells the client no more streams will be served; with andClose,
// the connection closes once what is framed is written.
func (c *conn) goAway(code http2.ErrCode, andClose bool) {
	c.mu.Lock()
	if !c.goingAway {
		c.goingAway = true
		c.wfr.WriteGoAway(c.lastStream, code, nil)
	}
	c.closing = c.closing || andClose
	select {
	case c.kick <- struct{}{}: // the flusher writes, then closes when told
	default:
	}
	c.mu.Unlock()
}

// flushLocked has the flusher write out; mu is held.
func (c *conn) flushLocked() {
	n := c.out.Len()
	if n == 0 {
		return
	}
	if len(c.bounds) == 0 || c.bounds[len(c.bounds)-1] != n {
		c.bounds = append(c.bounds, n)
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// flushLoop writes out whenever it has bytes: the answers framed since the
// last write go out in one TLS record.
func (c *conn) flushLoop() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.mu.Lock()
		b := c.out.Bytes()
		if len(b) == 0 {
			closing := c.closing
			c.mu.Unlock()
			if closing {
				c.close()
				return
			}
			continue
		}
		// Swap buffers: framing goes on while these bytes are written.
		c.spare = append(c.spare[:0], b...)
		c.spareBounds = append(c.spareBounds[:0], c.bounds...)
		if len(c.spareBounds) == 0 || c.spareBounds[len(c.spareBounds)-1] != len(b) {
			c.spareBounds = append(c.spareBounds, len(b))
		}
		if c.out.Cap() > keptBuffer {
			c.out = bytes.Buffer{} // a burst's buffer is not kept for the connection's life
		} else {
			c.out.Reset()
		}
		c.bounds = c.bounds[:0]
		toWrite, bounds := c.spare, c.spareBounds
		if cap(c.spare) > keptBuffer {
			c.spare = nil // this write's copy goes once written
		}
		c.drained.Broadcast()
		c.mu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		var err error
		for from, i := 0, 0; i < len(bounds) && err == nil; i++ {
			// A record each; the connection below TLS coalesces the
			// records into few system calls (listen.Coalescing).
			_, err = c.nc.Write(toWrite[from:bounds[i]])
			from = bounds[i]
		}
		if err != nil {
			c.mu.Lock()
			c.writeErr = err
			c.drained.Broadcast()
			c.mu.Unlock()
			c.close()
			return
		}
		c.mu.Lock()
		done := c.closing && c.out.Len() == 0
		if !done && c.out.Len() > 0 {
			select { // more was framed while writing
			case c.kick <- struct{}{}:
			default:
			}
		}
		c.mu.Unlock()
		if done {
			c.close()
			return
		}
	}
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
		c.mu.Lock()
		if c.writeErr == nil {
			c.writeErr = net.ErrClosed
		}
		c.drained.Broadcast()
		c.mu.Unlock()
	})
}
