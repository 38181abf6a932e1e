package injector

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/dnsfault/dnsfault/injector/fault"
)

// heldQueries counts the queries waiting out a delay, bounded by
// --max-held so a flood of delayed queries cannot exhaust memory.
type heldQueries struct {
	max      int64
	n        atomic.Int64
	peak     atomic.Int64 // the most held at once since n was last 0
	lastFree atomic.Int64 // unix nanoseconds of the last hand-back of memory
}

// reserve takes a place among the held queries, or reports that there is
// none.
func (h *heldQueries) reserve() bool {
	n := h.n.Add(1)
	if n > h.max {
		h.n.Add(-1)
		return false
	}
	if n > h.peak.Load() {
		h.peak.Store(n)
	}
	return true
}

// burstHeld is how many held queries make a burst whose memory is handed
// back to the system once it drains.
const burstHeld = 10_000

// release ends one held query. When the last of a large burst ends, the
// memory it took goes back to the system at once: the Go runtime would
// otherwise keep it for a long while, and a chaos drill's burst should
// leave no trace.
func (h *heldQueries) release() {
	if h.n.Add(-1) == 0 && h.peak.Swap(0) >= burstHeld {
		if last := h.lastFree.Load(); time.Since(time.Unix(0, last)) > time.Minute && h.lastFree.CompareAndSwap(last, time.Now().UnixNano()) {
			go debug.FreeOSMemory()
		}
	}
}

// hold waits out a delay in the query's own goroutine (TCP: miekg/dns
// reads a connection's next query only after the handler returns), or
// until shutdown. It returns false at once when --max-held queries are
// already waiting: the query is then dropped.
func (p *pipeline) hold(d time.Duration) bool {
	if !p.held.reserve() {
		return false
	}
	defer p.held.release()
	sleep(p.ctx, d)
	return true
}

// droppedHeld is the verdict for a delayed query over --max-held.
func (p *pipeline) droppedHeld(v verdict) verdict {
	p.obs.metrics.heldDropped.Inc()
	v.out, v.action = fault.Outcome{Drop: true}, "drop (max-held)"
	return v
}

// answerLater answers a delayed UDP query from a timer. While it waits it
// holds its state and a timer, not a goroutine and its stack, so tens of
// thousands can wait at once. Shutdown fires the timers early, while the
// socket is still open.
func (p *pipeline) answerLater(q *query, v verdict) {
	p.later(q, v, v.wait, func(v verdict) verdict { return p.act(q, v, v.pending) })
}

// respondLater sends a verdict already made after d (a delay of a rule
// that took a name of the answer's CNAME chain), as answerLater does.
func (p *pipeline) respondLater(q *query, v verdict, d time.Duration) {
	p.later(q, v, d, func(v verdict) verdict { return v })
}

// later runs then on v after d, from a timer, and sends what it returns.
func (p *pipeline) later(q *query, v verdict, d time.Duration, then func(verdict) verdict) {
	if !p.held.reserve() {
		v = p.droppedHeld(v)
		p.respond(q, &v)
		return
	}
	answer := func(detached bool) {
		defer p.held.release()
		if detached {
			defer p.lives.done()
			defer p.recoverPanic(q.served, q.req.Msg)
		}
		v := then(v)
		p.respond(q, &v)
	}
	q.served.Hijack() // we write after the handler returns
	if !p.lives.after(d, func() { answer(true) }) {
		answer(false) // shutting down: answer now
	}
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
