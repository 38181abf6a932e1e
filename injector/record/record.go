// Package record keeps what a server's clients asked for: every distinct
// (name, type) with its counts, when it was first and last seen, the rcodes
// and TTLs it got, and its answers (addresses and CNAME chains). The
// recording maps a service's DNS dependencies (dnsfault deps) and becomes
// a scenario's zone, so a fault can be replayed offline.
package record

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/safefile"
	"github.com/dnsfault/dnsfault/scenarios/discover"
)

// maxAnswers bounds the distinct answers kept per question.
const maxAnswers = 32

// maxQuestions bounds the distinct questions kept; more are counted only.
const maxQuestions = 100_000

// Recorder collects entries; pass its Observe as injector.Config.Observe.
type Recorder struct {
	saveMu  sync.Mutex // one write of the file at a time
	mu      sync.Mutex
	started time.Time
	entries map[key]*entry
	dropped int
}

type key struct {
	name  string
	qtype uint16
}

type entry struct {
	discover.Entry
	answers map[string]bool
}

// New returns an empty Recorder.
func New() *Recorder { return &Recorder{entries: map[key]*entry{}} }

// Observe records one answered query.
func (r *Recorder) Observe(ev *injector.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started.IsZero() {
		r.started = ev.Time
	}
	k := key{ev.Name, ev.Type}
	e := r.entries[k]
	if e == nil {
		if len(r.entries) >= maxQuestions {
			r.dropped++
			return
		}
		e = &entry{Entry: discover.Entry{Name: ev.Name, Type: typeName(ev.Type), FirstSeen: ev.Time, Rcodes: map[string]int{}, MinTTL: -1, MaxTTL: -1}, answers: map[string]bool{}}
		r.entries[k] = e
	}
	e.Count++
	e.LastSeen = ev.Time
	e.Rcodes[ev.RcodeName()]++
	if ev.TTL >= 0 {
		if e.MinTTL < 0 || ev.TTL < e.MinTTL {
			e.MinTTL = ev.TTL
		}
		e.MaxTTL = max(e.MaxTTL, ev.TTL)
	}
	for _, rr := range ev.Answer {
		if len(e.answers) >= maxAnswers {
			break
		}
		switch rr.(type) {
		case *dns.A, *dns.AAAA, *dns.CNAME:
			e.answers[rr.String()] = true
		}
	}
}

// Recording returns what was recorded so far, sorted by name and type.
func (r *Recorder) Recording(ended time.Time) discover.Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := discover.Recording{Version: 1, Questions: []discover.Entry{}, Dropped: r.dropped, Started: r.started.UTC(), Ended: ended.UTC()}
	for _, e := range r.entries {
		out := e.Entry
		out.Rcodes = maps.Clone(e.Rcodes) // Observe goes on counting into the original
		out.FirstSeen, out.LastSeen = out.FirstSeen.UTC(), out.LastSeen.UTC()
		for a := range e.answers {
			out.Answers = append(out.Answers, a)
		}
		sort.Strings(out.Answers)
		rec.Questions = append(rec.Questions, out)
	}
	sort.Slice(rec.Questions, func(i, j int) bool {
		a, b := rec.Questions[i], rec.Questions[j]
		return a.Name < b.Name || a.Name == b.Name && a.Type < b.Type
	})
	return rec
}

// WriteFile writes the recording as JSON, whole or not at all: a failed
// write leaves the previous file as it was.
func (r *Recorder) WriteFile(path string, ended time.Time) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	return safefile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r.Recording(ended))
	})
}

// AutosaveInterval is how often Autosave writes: what a process killed
// without warning can lose at most.
const AutosaveInterval = 10 * time.Second

// Autosave writes the recording to path every interval, in the
// background, until the returned stop is called (once or more); stop returns once no
// write is under way, so the caller's last WriteFile is the last write.
// Each write's outcome goes to written (nil when it was written); after a
// failed one, the next tries again.
func (r *Recorder) Autosave(path string, interval time.Duration, written func(error)) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				written(r.WriteFile(path, now))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }); <-stopped }
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}
