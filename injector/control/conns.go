package control

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connCap bounds the control API's open connections. At the cap, a new
// connection closes the one that has been idle longest (connected without
// a request, or kept alive between requests), so however many idle
// connections another local user holds open, an operator's request is
// still accepted at once; only when every connection is busy does a new
// one wait for a place. Busy connections end by themselves: every request
// has a deadline.
type connCap struct {
	net.Listener
	max int

	mu      sync.Mutex
	conns   map[net.Conn]*connState
	changed chan struct{} // a connection closed or went idle
}

type connState struct {
	busy  bool
	since time.Time // when it last went idle
}

func newConnCap(ln net.Listener, max int) *connCap {
	return &connCap{Listener: ln, max: max, conns: map[net.Conn]*connState{}, changed: make(chan struct{}, 1)}
}

// Accept implements net.Listener.
func (l *connCap) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		l.mu.Lock()
		if len(l.conns) >= l.max {
			l.evictIdleLocked()
		}
		if len(l.conns) < l.max {
			l.conns[c] = &connState{since: time.Now()}
			l.mu.Unlock()
			return c, nil
		}
		l.mu.Unlock()
		select { // every connection is busy: wait until one is done
		case <-l.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// evictIdleLocked closes the connection idle longest, if any is idle.
func (l *connCap) evictIdleLocked() {
	var oldest net.Conn
	var since time.Time
	for c, st := range l.conns {
		if !st.busy && (oldest == nil || st.since.Before(since)) {
			oldest, since = c, st.since
		}
	}
	if oldest != nil {
		delete(l.conns, oldest)
		oldest.Close()
	}
}

// track is the http.Server's ConnState hook.
func (l *connCap) track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.conns[c]
	switch {
	case st == nil:
		return // evicted, or closed already
	case state == http.StateActive:
		st.busy = true
		return
	case state == http.StateIdle:
		st.busy, st.since = false, time.Now()
	case state == http.StateClosed || state == http.StateHijacked:
		delete(l.conns, c)
	}
	select {
	case l.changed <- struct{}{}:
	default:
	}
}
