// Package probe checks a service from outside while a scenario runs: an
// HTTP(S) GET that must answer 2xx, a TCP connect, or a command that must
// exit 0, every interval. A probe's host name is resolved through
// dnsfault itself, so the probe feels the DNS faults as the service's
// clients do; an IP address is dialled as it is.
package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Result is one probe's outcome.
type Result struct {
	Probe   string // the probe as given
	Time    time.Time
	OK      bool
	Latency time.Duration
	Error   string
}

// Prober runs probes until Stop.
type Prober struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// Check is one kind of probe, made from its URL.
type Check func(ctx context.Context) error

// Parse reads a probe: http://, https://, tcp://HOST:PORT or exec:COMMAND.
// dnsAddr is dnsfault's address, which resolves host names; from, when
// valid, is the address the probe's DNS queries leave from, so that they
// can be told from the service's own.
func Parse(spec, dnsAddr string, from netip.Addr) (Check, error) {
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		if from.IsValid() {
			if strings.HasPrefix(network, "udp") {
				d.LocalAddr = &net.UDPAddr{IP: from.AsSlice()}
			} else {
				d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
			}
		}
		return d.DialContext(ctx, network, dnsAddr)
	}}
	dialer := &net.Dialer{Resolver: resolver}
	switch {
	case strings.HasPrefix(spec, "http://"), strings.HasPrefix(spec, "https://"):
		if _, err := url.Parse(spec); err != nil {
			return nil, fmt.Errorf("probe %q: %w", spec, err)
		}
		client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true, Proxy: nil}}
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, spec, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("http %d", resp.StatusCode)
			}
			return nil
		}, nil
	case strings.HasPrefix(spec, "tcp://"):
		addr := strings.TrimPrefix(spec, "tcp://")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("probe %q: want tcp://HOST:PORT", spec)
		}
		return func(ctx context.Context) error {
			c, err := dialer.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		}, nil
	case strings.HasPrefix(spec, "exec:"):
		command := strings.TrimSpace(strings.TrimPrefix(spec, "exec:"))
		if command == "" {
			return nil, fmt.Errorf("probe %q: exec: needs a command", spec)
		}
		return func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
			if err != nil {
				if msg := strings.TrimSpace(string(out)); msg != "" {
					return fmt.Errorf("%w: %s", err, msg)
				}
			}
			return err
		}, nil
	}
	return nil, fmt.Errorf("probe %q: want http://, https://, tcp://HOST:PORT or exec:COMMAND", spec)
}

// Start runs each check every interval, each try bounded by timeout,
// giving every result to report, until Stop.
func Start(checks map[string]Check, interval, timeout time.Duration, report func(Result)) *Prober {
	p := &Prober{stop: make(chan struct{})}
	for spec, check := range checks {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				began := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				err := check(ctx)
				cancel()
				r := Result{Probe: spec, Time: time.Now(), OK: err == nil, Latency: time.Since(began)}
				if err != nil {
					r.Error = err.Error()
					if errors.Is(err, context.DeadlineExceeded) {
						r.Error = "timeout: " + r.Error
					}
				}
				report(r)
				select {
				case <-p.stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
	return p
}

// Stop ends the probes and waits for the tries under way.
func (p *Prober) Stop() {
	close(p.stop)
	p.wg.Wait()
}

// Source picks the address probes' DNS queries leave from when dnsfault
// listens at dnsAddr: a loopback address of their own (127.255.X.Y)
// when it listens on IPv4 loopback, so that a report can leave them out
// of the clients' figures; otherwise none (they share the client's).
func Source(dnsAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(dnsAddr)
	if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte{127, 255, byte(1 + rand.IntN(254)), byte(1 + rand.IntN(254))})
}
