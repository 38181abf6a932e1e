package control

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"
)

//go:embed dashboard
var dashboardFiles embed.FS

var page = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"seconds": func(s *float64) string {
		if s == nil {
			return ""
		}
		return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
	},
}).ParseFS(dashboardFiles, "dashboard/index.html"))

// liveInterval is how often the dashboard's stream sends the figures.
const liveInterval = time.Second

// dashboard serves the game-day page: rendered on the server with the
// status, so it reads without scripts, then kept live by its script.
func (a *api) dashboard(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Nothing on the page comes from anywhere but here.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	live := a.e.Live()
	// The page is rendered with the figures of now, status and chart, so
	// its first paint holds data (the script reads them from #initial).
	if err := page.Execute(w, struct {
		Status
		Live Live
	}{live.Status, live}); err != nil {
		a.log.Error("rendering the dashboard", "err", err)
	}
}

func (a *api) assets() http.Handler {
	sub, _ := fs.Sub(dashboardFiles, "dashboard")
	return http.StripPrefix("/assets/", http.FileServer(http.FS(sub)))
}

// maxStreams bounds the dashboards' live streams open at once, and
// streamWriteTimeout how long one write to a stream may take.
const (
	maxStreams         = 16
	streamWriteTimeout = 10 * time.Second
)

// live streams the live figures as Server-Sent Events, once a second,
// until the client goes or the server shuts down.
func (a *api) live(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	// Each stream holds a connection for as long as it is open: they are
	// bounded apart, below the connection cap, so they cannot take every
	// place an operator's request needs.
	if a.streams.Add(1) > maxStreams {
		a.streams.Add(-1)
		refuse(w, http.StatusServiceUnavailable, "too many live streams open; close a dashboard")
		return
	}
	defer a.streams.Add(-1)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	tick := time.NewTicker(liveInterval)
	defer tick.Stop()
	for {
		// The server's write timeout would end the stream: each write
		// gets a deadline of its own instead, so a reader that stalls is
		// dropped and one that reads stays.
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		data, err := json.Marshal(a.e.Live())
		if err != nil {
			return
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return
		}
		flusher.Flush()
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-a.closing:
			return
		}
	}
}
