// Command service stands in for a service under test: it resolves NAME
// through dnsfault ($DNSFAULT_ADDR) with Go's resolver and no cache, as a
// call to a backend would, every 20 ms, and appends each call's outcome to
// $DNSFAULT_EVENTS. It stops once it has made 5 good calls in a row in
// the timeline's last phase (or after 60 s). With -http PORT it serves
// HTTP instead, resolving NAME for each request, for a probe to check.
//
// Flags make it misbehave as real services do: -sticky never succeeds
// again after its first failure (a pool that keeps a dead connection),
// -storm N asks N more times at once after each failed lookup (retries
// without backoff), and -fail-for D goes on failing for D after its last
// failed lookup (a cache of failures). -log FILE writes, besides the
// events, the wall time of each call's outcome in the client's own words,
// for a test to compare with the report.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	httpPort := flag.String("http", "", "serve HTTP on `PORT` instead, resolving NAME per request")
	sticky := flag.Bool("sticky", false, "never succeed again after the first failure")
	storm := flag.Int("storm", 0, "after a failed lookup, ask `N` more times at once")
	failFor := flag.Duration("fail-for", 0, "go on failing for `D` after the last failed lookup")
	logFile := flag.String("log", "", "also write each call's outcome and wall time to `FILE`")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: service [-sticky] [-storm N] [-fail-for D] [-log FILE] NAME (calls, reported in $DNSFAULT_EVENTS)\n       service -http PORT NAME (a server to probe)\nRun it under dnsfault run.")
		os.Exit(2)
	}
	name := flag.Arg(0)
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, os.Getenv("DNSFAULT_ADDR"))
	}}
	if *httpPort != "" {
		serveHTTP(*httpPort, name, r)
		return
	}
	events, err := os.OpenFile(os.Getenv("DNSFAULT_EVENTS"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(2)
	}
	defer events.Close()
	enc := json.NewEncoder(events)
	var own *json.Encoder
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "service:", err)
			os.Exit(2)
		}
		defer f.Close()
		own = json.NewEncoder(f)
	}
	lookup := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, name)
		if err == nil && len(addrs) == 0 {
			err = fmt.Errorf("lookup %s: no addresses", name)
		}
		return err
	}
	good := 0
	failedOnce := false
	var lastFailure time.Time
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		began := time.Now()
		err := lookup()
		for i := 0; err != nil && i < *storm; i++ {
			lookup()
		}
		if err != nil {
			lastFailure = time.Now()
		}
		switch {
		case err == nil && *sticky && failedOnce:
			err = fmt.Errorf("still failing: the pool kept its broken connection")
		case err == nil && *failFor > 0 && !lastFailure.IsZero() && time.Since(lastFailure) < *failFor:
			err = fmt.Errorf("still failing: a failure cached %v ago", time.Since(lastFailure).Round(time.Millisecond))
		}
		failedOnce = failedOnce || err != nil
		ended := time.Now()
		line := map[string]any{"ok": err == nil, "start": began, "end": ended}
		if err != nil {
			line["error"] = err.Error()
		}
		enc.Encode(line)
		if own != nil {
			own.Encode(map[string]any{"ok": err == nil, "time": ended})
		}
		switch {
		case *sticky && lastPhase():
			if good++; good >= 25 {
				return // a while in the last phase, still failing
			}
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
