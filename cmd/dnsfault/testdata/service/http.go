package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// serveHTTP is the service as a probe sees it: on 127.0.0.1:port, each
// request resolves name through dnsfault and answers 200 when it
// resolves, 503 when not. It returns once 10 requests in a row have
// succeeded in the timeline's last phase (or after 60 s).
func serveHTTP(port, name string, r *net.Resolver) {
	var mu sync.Mutex
	good := 0
	done := make(chan struct{})
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		addrs, err := r.LookupHost(ctx, name)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if err != nil || len(addrs) == 0 {
			good = 0
			http.Error(w, fmt.Sprint(err), http.StatusServiceUnavailable)
			return
		}
		if lastPhase() {
			if good++; good == 10 {
				close(done)
			}
		}
		fmt.Fprintln(w, "ok")
	})}
	go srv.ListenAndServe()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "service: the timeline never reached its last phase")
		os.Exit(1)
	}
	srv.Shutdown(context.Background())
}
