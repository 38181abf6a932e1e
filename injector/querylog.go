package injector

import (
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/miekg/dns"
)

// queryLog writes one JSON line per query. A line that cannot be written
// (a full disk) is counted, in the metrics and the status, and logged at
// most once a minute: a log that loses lines says so.
type queryLog struct {
	mu     sync.Mutex
	w      io.Writer
	logger *slog.Logger
	failed prometheus.Counter

	errors     atomic.Uint64
	lastErr    atomic.Pointer[string]
	lastLogged time.Time // under mu
}

// errorLogInterval is how often a failing query log is reported in the
// server's log.
const errorLogInterval = time.Minute

// logLine is the query log format; its fields are documented in the README.
type logLine struct {
	Time      time.Time `json:"time"`
	Client    string    `json:"client"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Transport string    `json:"transport"`
	Phase     string    `json:"phase,omitempty"`
	Rule      string    `json:"rule,omitempty"`
	AdHoc     bool      `json:"ad_hoc,omitempty"`    // the rule was added at runtime
	ViaCNAME  string    `json:"via_cname,omitempty"` // the chain's name the rule took
	Action    string    `json:"action"`
	DNSSEC    string    `json:"dnssec,omitempty"` // the DNSSEC fault that broke the answer
	Rcode     string    `json:"rcode"`            // none for a drop, garbage for garbage
	LatencyMs float64   `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
}

func (l *queryLog) write(ev *Event) {
	line := logLine{
		Time:      ev.Time.UTC(),
		Client:    ev.Client.String(),
		Name:      ev.Name,
		Type:      dns.TypeToString[ev.Type],
		Transport: ev.Transport.String(),
		Phase:     ev.Phase,
		Rule:      ev.Rule,
		AdHoc:     ev.AdHoc,
		ViaCNAME:  ev.Via,
		Action:    ev.Action,
		DNSSEC:    ev.DNSSEC,
		Rcode:     ev.RcodeName(),
		LatencyMs: float64(ev.Latency.Microseconds()) / 1000,
	}
	if ev.Err != nil {
		line.Error = ev.Err.Error()
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(b); err != nil {
		n := l.errors.Add(1)
		msg := err.Error()
		l.lastErr.Store(&msg)
		l.failed.Inc()
		if now := time.Now(); now.Sub(l.lastLogged) >= errorLogInterval {
			l.lastLogged = now
			l.logger.Error("--log-queries: lines are being lost", "lost", n, "err", err)
		}
	}
}

// lost is how many lines could not be written, and the last error.
func (l *queryLog) lost() (uint64, string) {
	if l == nil {
		return 0, ""
	}
	n := l.errors.Load()
	if p := l.lastErr.Load(); p != nil {
		return n, *p
	}
	return n, ""
}
