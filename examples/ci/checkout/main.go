// Command checkout is the example service of dnsfault's CI example. It
// serves requests by calling a backend, payments.shop.test, that it finds
// through DNS, and its retry policy is a flag, so the same service shows a
// well-behaved and a badly-behaved client under a DNS outage.
//
// The backend is a stand-in: checkout listens on 127.0.0.1 itself and the
// scenario's zone points payments.shop.test there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

func main() {
	backend := flag.String("backend", "payments.shop.test", "the backend's DNS name")
	requests := flag.Int("requests", 80, "how many requests to serve")
	rate := flag.Int("rate", 20, "requests per second")
	policy := flag.String("retry", "backoff", "what to do when DNS fails: backoff (keep the last address, ask again later) or tight (ask again at once, up to 20 times)")
	minSuccess := flag.Float64("min-success", 0.9, "the share of requests that must be served")
	flag.Parse()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	go serveBackend(ln)
	port := ln.Addr().(*net.TCPAddr).Port

	var lookups *lookup
	switch *policy {
	case "backoff":
		lookups = &lookup{resolver: resolver(), name: *backend, retries: 0, backoff: true}
	case "tight":
		lookups = &lookup{resolver: resolver(), name: *backend, retries: 20}
	default:
		fail(fmt.Errorf("-retry %q: want backoff or tight", *policy))
	}

	// A fixed number of requests, each started on its own schedule: a
	// slow machine takes longer, but serves the same requests.
	served, total := 0, 0
	start, interval := time.Now(), time.Second/time.Duration(*rate)
	for i := range *requests {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		total++
		addr, err := lookups.address()
		if err == nil {
			err = call(netip.AddrPortFrom(addr, uint16(port)))
		}
		if err == nil {
			served++
		}
	}
	share := float64(served) / float64(total)
	fmt.Printf("checkout (%s retries): %d of %d requests served (%.0f%%), %d DNS lookups\n", *policy, served, total, 100*share, lookups.count)
	if share < *minSuccess {
		os.Exit(1)
	}
}

// resolver uses the dnsfault server named by DNSFAULT_ADDR (set by
// `dnsfault run`), or the system's resolver when there is none.
func resolver() *net.Resolver {
	addr := os.Getenv("DNSFAULT_ADDR")
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// lookup finds the backend's address with a retry policy, keeping the last
// address that worked to fall back on.
type lookup struct {
	resolver *net.Resolver
	name     string
	retries  int  // immediate retries after a failure
	backoff  bool // after a failure, use the last address and wait before asking again

	last    netip.Addr
	waitTil time.Time
	wait    time.Duration
	count   int
}

func (l *lookup) address() (netip.Addr, error) {
	if l.backoff && time.Now().Before(l.waitTil) && l.last.IsValid() {
		return l.last, nil
	}
	var err error
	for try := 0; try <= l.retries; try++ {
		var addrs []netip.Addr
		l.count++
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		addrs, err = l.resolver.LookupNetIP(ctx, "ip4", l.name)
		cancel()
		if err == nil && len(addrs) > 0 {
			l.last, l.wait = addrs[0], 0
			return l.last, nil
		}
	}
	if l.backoff {
		l.wait = min(max(2*l.wait, 100*time.Millisecond), 2*time.Second)
		l.waitTil = time.Now().Add(l.wait)
	}
	if l.last.IsValid() {
		return l.last, nil // stale, but better than failing the request
	}
	return netip.Addr{}, errors.Join(errors.New("no address for the backend"), err)
}

func call(addr netip.AddrPort) error {
	conn, err := net.DialTimeout("tcp", addr.String(), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	_, err = conn.Read(make([]byte, 1))
	return err
}

func serveBackend(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.Write([]byte("k"))
		conn.Close()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "checkout:", err)
	os.Exit(2)
}
