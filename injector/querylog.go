package injector

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// queryLog writes one JSON line per query.
type queryLog struct {
	mu sync.Mutex
	w  io.Writer
}

// logLine is the query log format; its fields are documented in the README.
type logLine struct {
	Time      time.Time `json:"time"`
	Client    string    `json:"client"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Transport string    `json:"transport"`
	Phase     string    `json:"phase,omitempty"`
	Rule      string    `json:"rule,omitempty"`
	Action    string    `json:"action"`
	Rcode     string    `json:"rcode"` // none for a drop, garbage for garbage
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
		Action:    ev.Action,
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
	l.w.Write(b)
}
