// Package dnsfaulttest runs dnsfault inside Go tests: a scenario (a file,
// a bundled scenario's name, or inline YAML) served on 127.0.0.1 for one
// test, with a *net.Resolver that asks it. It is what go-mockdns offers,
// with the whole scenario engine behind it: faults, phases, probabilities.
//
//	func TestCheckoutSurvivesDynamoDB(t *testing.T) {
//		dns := dnsfaulttest.Start(t, "aws-dynamodb-us-east-1-2025")
//		dns.JumpTo("records-gone")
//		svc := checkout.New(checkout.WithResolver(dns.Resolver))
//		...
//	}
//
// Names outside the scenario's zones get REFUSED unless WithUpstream names
// a resolver: a test never reaches the network by accident.
package dnsfaulttest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/scenarios"
)

// Server is dnsfault serving one scenario on 127.0.0.1.
type Server struct {
	// Addr is the UDP and TCP address, 127.0.0.1:PORT.
	Addr string
	// Resolver resolves through the server with Go's own resolver.
	Resolver *net.Resolver

	srv *injector.Server
}

// Option changes how New and Start serve a scenario.
type Option func(*settings)

type settings struct {
	opts     scenarios.Options
	upstream []string
	now      func() time.Time
	speed    float64
}

// WithUpstream forwards names outside the zones to these IP:PORT addresses
// (fake upstreams on loopback, say) instead of refusing them.
func WithUpstream(addrs ...string) Option {
	return func(s *settings) { s.upstream = addrs }
}

// WithParam overrides one of the scenario's parameters, as --set does.
func WithParam(name, value string) Option {
	return func(s *settings) {
		if s.opts.Set == nil {
			s.opts.Set = map[string]string{}
		}
		s.opts.Set[name] = value
	}
}

// WithSeed fixes every random decision, as --seed does.
func WithSeed(seed int64) Option {
	return func(s *settings) { s.opts.Seed = &seed }
}

// WithClock gives the timeline a clock the test controls.
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.now = now }
}

// WithSpeed runs every phase duration n times faster.
func WithSpeed(n float64) Option {
	return func(s *settings) { s.speed = n }
}

// New serves scenario until Close. scenario is inline YAML when it holds a
// newline, otherwise a file or the name of a bundled scenario.
func New(scenario string, options ...Option) (*Server, error) {
	s := settings{upstream: []string{"none"}}
	for _, o := range options {
		o(&s)
	}
	var sc *scenarios.Scenario
	var err error
	if strings.Contains(scenario, "\n") {
		sc, err = scenarios.Parse("inline.yaml", []byte(scenario), s.opts)
	} else {
		sc, err = scenarios.Open(scenario, s.opts)
	}
	if err != nil {
		return nil, err
	}
	srv, err := serve(sc, injector.Config{Upstream: s.upstream, Now: s.now, Speed: s.speed})
	if err != nil {
		return nil, err
	}
	addr := srv.Addr()
	return &Server{
		Addr: addr,
		srv:  srv,
		Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}},
	}, nil
}

// Start serves scenario for the length of the test; see New.
func Start(t testing.TB, scenario string, options ...Option) *Server {
	t.Helper()
	s, err := New(scenario, options...)
	if err != nil {
		t.Fatalf("dnsfaulttest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Serve starts the injector on a parsed scenario with cfg, on 127.0.0.1
// with a free port unless cfg.Listen says otherwise, and shuts it down
// when the test ends: the one way dnsfault's own tests start a server
// with a configuration of their own. With no cfg.Upstream, the
// scenario's upstream is used, but for system (the machine's resolver),
// which becomes none: a test never reaches the network by accident.
func Serve(t testing.TB, sc *scenarios.Scenario, cfg injector.Config) *injector.Server {
	t.Helper()
	if len(cfg.Upstream) == 0 && (len(sc.Upstream) == 0 || sc.Upstream[0] == "system") {
		cfg.Upstream = []string{"none"}
	}
	srv, err := serve(sc, cfg)
	if err != nil {
		t.Fatalf("dnsfaulttest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("dnsfaulttest: shutdown: %v", err)
		}
	})
	return srv
}

// serve starts the injector on loopback, unless cfg.Listen is set.
func serve(sc *scenarios.Scenario, cfg injector.Config) (*injector.Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	srv, err := injector.New(cfg, sc)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		srv.Shutdown(context.Background())
		return nil, err
	}
	return srv, nil
}

// Close stops the server; queries in flight are answered first.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// Status reports the phase, the safety switches and each rule's hits.
func (s *Server) Status() control.Status { return s.srv.Status() }

// Hits returns how many queries the named rule took in the phase in force.
func (s *Server) Hits(rule string) uint64 {
	st := s.srv.Status()
	for _, p := range st.Phases {
		if p.Name != st.Phase {
			continue
		}
		for _, r := range p.Rules {
			if r.Name == rule {
				return r.Hits
			}
		}
	}
	return 0
}

// JumpTo makes the named phase begin now.
func (s *Server) JumpTo(phase string) error {
	if err := s.srv.JumpTo(phase, "dnsfaulttest"); err != nil {
		return fmt.Errorf("dnsfaulttest: %w", err)
	}
	return nil
}

// Abort turns every fault off; Resume turns them back on.
func (s *Server) Abort() { s.srv.Abort("dnsfaulttest") }

// Resume turns faults back on after Abort.
func (s *Server) Resume() { s.srv.Resume("dnsfaulttest") }
