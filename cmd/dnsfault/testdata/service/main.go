// Command service stands in for a service under test: it resolves NAME
// through dnsfault ($DNSFAULT_ADDR) with Go's resolver and no cache, as a
// call to a backend would, every 20 ms, and appends each call's outcome to
// $DNSFAULT_EVENTS. It stops once it has made 5 good calls in a row in
// the timeline's last phase (or after 60 s). With -http PORT it serves
// HTTP instead, resolving NAME for each request, for a probe to check.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 && (len(os.Args) != 4 || os.Args[1] != "-http") {
		fmt.Fprintln(os.Stderr, "usage: service NAME           (calls, reported in $DNSFAULT_EVENTS)\n       service -http PORT NAME (a server to probe)\nRun it under dnsfault run.")
		os.Exit(2)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, os.Getenv("DNSFAULT_ADDR"))
	}}
	if os.Args[1] == "-http" {
		serveHTTP(os.Args[2], os.Args[3], r)
		return
	}
	events, err := os.OpenFile(os.Getenv("DNSFAULT_EVENTS"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(2)
	}
	defer events.Close()
	enc := json.NewEncoder(events)
	good := 0
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addrs, err := r.LookupHost(ctx, os.Args[1])
		cancel()
		line := map[string]any{"ok": err == nil && len(addrs) > 0, "latency_ms": float64(time.Since(began).Microseconds()) / 1000, "time": time.Now()}
		if err != nil {
			line["error"] = err.Error()
		}
		enc.Encode(line)
		switch {
		case err != nil:
			good = 0
		case lastPhase():
			if good++; good >= 5 {
				return
			}
		}
	}
	fmt.Fprintln(os.Stderr, "service: the timeline never reached its last phase")
	os.Exit(1)
}

// lastPhase asks dnsfault's control API whether the timeline is in its
// last phase.
func lastPhase() bool {
	resp, err := http.Get("http://" + os.Getenv("DNSFAULT_CONTROL") + "/v1/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		PhaseIndex int `json:"phase_index"`
		Phases     []struct{}
		Timeline   string `json:"timeline"`
	}
	return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Timeline == "running" && st.PhaseIndex == len(st.Phases)-1
}
