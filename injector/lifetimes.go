package injector

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lifetimes follows queries from arrival to answer. Most are answered
// before their handler returns. The others outlive it, detached: a delayed
// UDP query waiting on a timer, a query forwarded without a waiting
// goroutine. Shutdown closes the lifetimes, which fires the timers early,
// and waits for every detached query to be answered before the sockets
// close.
type lifetimes struct {
	inFlight atomic.Int64 // queries not yet answered, detached ones included

	mu       sync.Mutex
	closing  bool
	detached sync.WaitGroup // added to under mu, and never once closing
	timers   map[*time.Timer]func()
}

// begin and end bracket a query's handler.
func (l *lifetimes) begin() { l.inFlight.Add(1) }
func (l *lifetimes) end()   { l.inFlight.Add(-1) }

// detach lets a query outlive its handler until done is called. It
// reports false once shutdown has begun: the caller answers now instead.
func (l *lifetimes) detach() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.detachLocked()
}

func (l *lifetimes) detachLocked() bool {
	if l.closing {
		return false
	}
	l.detached.Add(1)
	l.inFlight.Add(1)
	return true
}

// done ends a detached query.
func (l *lifetimes) done() {
	l.inFlight.Add(-1)
	l.detached.Done()
}

// after detaches a query and runs answer after d, or at once when
// shutdown begins; answer calls done. It reports false once shutdown has
// begun, without running answer: the caller answers now instead.
func (l *lifetimes) after(d time.Duration, answer func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.detachLocked() {
		return false
	}
	if l.timers == nil {
		l.timers = map[*time.Timer]func(){}
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		l.mu.Lock()
		delete(l.timers, t)
		l.mu.Unlock()
		answer()
	})
	l.timers[t] = answer
	return true
}

// close begins shutdown: no query detaches from now on, and every timer
// fires now.
func (l *lifetimes) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for t, answer := range l.timers {
		if t.Stop() {
			delete(l.timers, t)
			go answer()
		}
	}
}

// wait waits until every detached query is answered, or ctx ends.
func (l *lifetimes) wait(ctx context.Context) {
	answered := make(chan struct{})
	go func() { l.detached.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-ctx.Done():
	}
}
