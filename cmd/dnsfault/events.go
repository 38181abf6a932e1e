package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dnsfault/dnsfault/injector/report"
)

// maxOpenCalls bounds the calls followed from their start line to their
// end line; past it, a start line is not followed.
const maxOpenCalls = 100_000

// eventsPoll is how often the events file is read while the command runs:
// a line without a time gets the time it was read.
const eventsPoll = 50 * time.Millisecond

// eventLine is one line of DNSFAULT_EVENTS: a call the service made,
// from start to end (or time, its end), or its latency before its end.
type eventLine struct {
	// ID ties a call's line at its start (no ok yet) to its line at its
	// end; a call started and never ended is counted as never finished.
	ID        string    `json:"id"`
	OK        *bool     `json:"ok"`
	LatencyMs float64   `json:"latency_ms"`
	Error     string    `json:"error"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Time      time.Time `json:"time"`
}

// eventsReader follows the file the command appends its calls to
// (DNSFAULT_EVENTS), giving each to call as it is written.
type eventsReader struct {
	f       *os.File
	call    func(report.Call)
	open    map[string]time.Time // calls started and not yet ended, by id
	partial []byte               // a line not yet ended
	line    int
	bad     []string // the first bad lines, for the message
	badN    int
}

// watchEvents creates path and follows it until the returned stop, which
// reads what is left (lines without a time get the time the command
// ended) and returns a description of the lines it could not read, or ""
// when there were none.
func watchEvents(path string, call func(report.Call)) (stop func(ended time.Time) string, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	r := &eventsReader{f: f, call: call, open: map[string]time.Time{}}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(eventsPoll)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				r.read(false, time.Now())
			}
		}
	}()
	return func(ended time.Time) string {
		close(done)
		<-stopped
		r.read(true, ended)
		f.Close()
		for _, start := range r.open {
			r.call(report.Call{Start: start, Time: ended, NeverFinished: true, Error: "never finished"})
		}
		if r.badN == 0 {
			return ""
		}
		return fmt.Sprintf("%d lines of DNSFAULT_EVENTS were not read: %s (a line is one JSON object per call, such as {\"ok\": true, \"latency_ms\": 12}; docs/report.md)", r.badN, strings.Join(r.bad, "; "))
	}, nil
}

// read takes the lines written since the last read; at the end, a last
// line without its newline too.
func (r *eventsReader) read(end bool, now time.Time) {
	data, _ := io.ReadAll(r.f)
	r.partial = append(r.partial, data...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		r.parse(r.partial[:i], now)
		r.partial = r.partial[i+1:]
	}
	if end && len(bytes.TrimSpace(r.partial)) > 0 {
		r.parse(r.partial, now)
		r.partial = nil
	}
}

func (r *eventsReader) parse(b []byte, now time.Time) {
	r.line++
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	var ev eventLine
	err := json.Unmarshal(b, &ev)
	if err == nil && ev.OK == nil && ev.ID != "" && !ev.Start.IsZero() {
		if len(r.open) < maxOpenCalls {
			r.open[ev.ID] = ev.Start // the call began; its end comes later, or never
		}
		return
	}
	if err == nil && ev.OK == nil {
		err = errors.New(`no "ok": true or false`)
	}
	err = plainJSONError(err)
	if start, ok := r.open[ev.ID]; ok && ev.ID != "" {
		delete(r.open, ev.ID)
		if ev.Start.IsZero() {
			ev.Start = start
		}
	}
	if err != nil {
		r.badN++
		if len(r.bad) < 3 {
			r.bad = append(r.bad, fmt.Sprintf("line %d: %v", r.line, err))
		}
		return
	}
	call := report.Call{Time: ev.End, OK: *ev.OK, Latency: time.Duration(ev.LatencyMs * float64(time.Millisecond)), Error: ev.Error}
	if call.Time.IsZero() {
		call.Time = ev.Time
	}
	if call.Time.IsZero() {
		call.Time, call.Stamped = now, true
	}
	call.Start = ev.Start
	switch {
	case !call.Start.IsZero() && call.Latency == 0:
		call.Latency = call.Time.Sub(call.Start)
	case call.Start.IsZero():
		call.Start = call.Time.Add(-call.Latency)
	}
	r.call(call)
}

// plainJSONError says what is wrong with an events line in the words of
// its format, not Go's JSON decoder's ("invalid character 'o' in literal
// null").
func plainJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var when *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not a JSON object (a mistake at character %d)", syntax.Offset)
	case errors.As(err, &typ):
		want := map[string]string{"ok": "true or false", "latency_ms": "a number", "id": "a string", "error": "a string"}[typ.Field]
		if want == "" {
			want = "a time as RFC 3339 (2026-12-08T10:00:00.123Z)"
		}
		return fmt.Errorf("%q must be %s, not a %s", typ.Field, want, typ.Value)
	case errors.As(err, &when):
		return fmt.Errorf("a time must be RFC 3339, such as 2026-12-08T10:00:00.123Z: got %q", when.Value)
	}
	return err
}
