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
	Rcode     string    `json:"rcode,omitempty"` // empty when nothing or garbage was sent
	LatencyMs float64   `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
}

func (l *queryLog) write(q *query, v *verdict, start time.Time) {
	line := logLine{
		Time:      start.UTC(),
		Client:    q.client.String(),
		Name:      q.req.Name,
		Type:      dns.TypeToString[q.req.Type],
		Transport: "udp",
		Phase:     v.phase,
		Rule:      v.rule,
		Action:    v.action,
		LatencyMs: float64(time.Since(start).Microseconds()) / 1000,
	}
	if q.req.TCP {
		line.Transport = "tcp"
	}
	if v.out.Msg != nil {
		line.Rcode = dns.RcodeToString[v.out.Msg.Rcode]
	}
	if v.err != nil {
		line.Error = v.err.Error()
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
