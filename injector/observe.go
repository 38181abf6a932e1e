package injector

import (
	"sync/atomic"
)

// observer tells every sink about each answered query: the metrics, the
// dashboard's live figures, the query log and Config.Observe. Both ways a
// query is answered, the full path (respond) and prepacked bytes
// (ServeRaw), call observe, so every sink counts every query once.
type observer struct {
	metrics  *metrics
	live     live
	queryLog *queryLog    // nil: no log
	extra    func(*Event) // Config.Observe; nil: none

	prepackedHits atomic.Uint64 // queries answered by ServeRaw
}

// kept are the counters a prepacked answer keeps for itself, to save
// looking them up by name and labels for each query.
type kept struct {
	// name is the dashboard's counter for the answer's name (nil when it
	// counts no more names).
	name *atomic.Int64
	// series is the metric series of the phase the answer was last sent
	// in.
	series atomic.Pointer[phaseSeries]
}

// observe records ev. k, when set, holds the counters kept with a
// prepacked answer.
func (o *observer) observe(ev *Event, k *kept) {
	if k == nil {
		o.metrics.count(ev)
		o.live.observe(ev)
	} else {
		k.count(o.metrics, ev)
		o.live.observeNamed(ev, k.name)
		o.prepackedHits.Add(1)
	}
	if o.queryLog != nil || o.extra != nil {
		o.tell(*ev)
	}
}

// tell gives the optional sinks their copy of an event. The copy is made
// only when a sink is there: handing ev itself to a function value would
// move every event to the heap, an allocation per prepacked answer.
func (o *observer) tell(ev Event) {
	if o.queryLog != nil {
		o.queryLog.write(&ev)
	}
	if o.extra != nil {
		o.extra(&ev)
	}
}

// count counts ev, a prepacked answer sent, in the metrics.
func (k *kept) count(m *metrics, ev *Event) {
	ps := k.series.Load()
	if ps == nil || ps.phase != ev.Phase {
		ps = &phaseSeries{ev.Phase, m.counter(ev)}
		k.series.Store(ps)
	}
	ps.c.Inc()
}
