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
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
	if err := page.Execute(w, a.e.Status()); err != nil {
		a.log.Error("rendering the dashboard", "err", err)
	}
}

func (a *api) assets() http.Handler {
	sub, _ := fs.Sub(dashboardFiles, "dashboard")
	return http.StripPrefix("/assets/", http.FileServer(http.FS(sub)))
}

// live streams the live figures as Server-Sent Events, once a second,
// until the client goes or the server shuts down.
func (a *api) live(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	tick := time.NewTicker(liveInterval)
	defer tick.Stop()
	for {
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
