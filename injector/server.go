// Package injector is the dnsfault DNS server: it listens on UDP and TCP,
// answers like a normal resolver (fake authoritative zones, then upstream),
// and injects the faults of the active scenario phase into the queries its
// rules take.
package injector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/netutil"

	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/ratelimit"
	"github.com/dnsfault/dnsfault/injector/udpbatch"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/scenarios"
)

// DefaultListen is where the server listens unless told otherwise.
const DefaultListen = "127.0.0.1:1053"

// udpReadBuffer is the UDP socket receive buffer asked for.
const udpReadBuffer = 4 << 20

// Defaults of the resource bounds.
const (
	DefaultForwardRate    = 1000
	DefaultMaxHeld        = 100_000
	DefaultMaxTCPConns    = 1000
	DefaultTCPIdleTimeout = 10 * time.Second
)

// Config is how a Server is run. The zero value serves on DefaultListen,
// forwards to the scenario's upstream (or the system's), and logs nothing.
type Config struct {
	// Listen is the UDP and TCP address; port 0 picks a free port, the same
	// for both.
	Listen string
	// Upstream, when set, overrides the scenario's upstream.
	Upstream []string
	// UpstreamTimeout bounds the wait for an upstream answer (default 2s).
	UpstreamTimeout time.Duration
	// ResolvConf is read for the `system` upstream (default /etc/resolv.conf).
	ResolvConf string
	// Allow lists the clients answered when Listen is not a loopback
	// address; it must then be set. Others get REFUSED.
	Allow []netip.Prefix
	// QueryLog, when set, receives one JSON line per query.
	QueryLog io.Writer
	// Logger receives server events (default: discarded).
	Logger *slog.Logger
	// Now is the clock of the timeline and the safety switches (default
	// time.Now); tests step it.
	Now func() time.Time
	// Speed runs every phase duration that many times faster (default 1).
	Speed float64
	// MaxDuration, when set, turns every fault off that long after the
	// server starts, for good: a forgotten drill never outlives its window.
	MaxDuration time.Duration
	// Observe, when set, is called with every answered query, after the
	// reply went out. It must be safe for concurrent use, and quick.
	Observe func(*Event)
	// ForwardRate bounds each client's forwarded queries a second (burst:
	// twice that), so dnsfault cannot amplify traffic toward a spoofed
	// victim; over it a client gets REFUSED. 0 means DefaultForwardRate,
	// below 0 no limit.
	ForwardRate float64
	// MaxHeld bounds the queries held by delays at once (default
	// DefaultMaxHeld); a query over it is dropped and counted.
	MaxHeld int
	// MaxTCPConns bounds open TCP connections (default DefaultMaxTCPConns),
	// and TCPIdleTimeout closes idle ones (default DefaultTCPIdleTimeout),
	// so slow or idle TCP clients cannot starve others.
	MaxTCPConns    int
	TCPIdleTimeout time.Duration
	// UDPSockets is how many UDP sockets share the port, each read by its
	// own goroutine (default: one per core where the kernel spreads
	// clients across them, on Linux at an address other than a wildcard;
	// one elsewhere).
	UDPSockets int
	// Heartbeat, when set, is a dead-man switch: without a heartbeat for
	// that long, every fault goes off until resume or load.
	Heartbeat time.Duration
}

// Server is a running dnsfault DNS server.
type Server struct {
	cfg       Config
	realClock bool // cfg.Now is time.Now: one clock read per query serves twice
	state     atomic.Pointer[runState]
	mu        sync.Mutex // serialises control actions; queries never take it
	started   time.Time
	lastBeat  atomic.Int64 // unix nanoseconds of the last heartbeat
	reload    atomic.Pointer[reloadResult]
	metrics   *metrics
	live      live
	queryLog  *queryLog

	// ctx ends when shutdown starts, so delayed queries stop waiting and
	// are answered at once.
	ctx    context.Context
	cancel context.CancelFunc

	// inFlight counts queries being handled, delayed ones included; held
	// those waiting out a delay.
	inFlight atomic.Int64
	held     atomic.Int64
	heldPeak atomic.Int64 // the most held at once since held was last 0
	lastFree atomic.Int64 // unix nanoseconds of the last hand-back of memory
	panics   atomic.Uint64

	prepackedHits atomic.Uint64 // queries answered by ServeRaw

	// pending are the delayed UDP queries waiting for their timers;
	// pendingWG counts them and the forwarded UDP queries in flight.
	pendingMu sync.Mutex
	pending   map[*pendingAnswer]struct{}
	pendingWG sync.WaitGroup
	limiter   *ratelimit.Limiter // nil: no limit
	mux       *upstream.Mux      // forwarded UDP queries, for every plan

	// UDP is served in batches (one server per socket sharing the port)
	// on sockets bound to one address, else by miekg/dns (udp).
	batches  []*udpbatch.Server
	udp, tcp *dns.Server
	addr     string
	stopOnce sync.Once
	stopErr  error
}

// New compiles the scenario and returns a server ready to Start.
func New(cfg Config, sc *scenarios.Scenario) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	realClock := cfg.Now == nil
	if realClock {
		cfg.Now = time.Now
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.ForwardRate == 0 {
		cfg.ForwardRate = DefaultForwardRate
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	if cfg.MaxTCPConns <= 0 {
		cfg.MaxTCPConns = DefaultMaxTCPConns
	}
	if cfg.TCPIdleTimeout <= 0 {
		cfg.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if err := checkExposure(cfg.Listen, cfg.Allow); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, started: cfg.Now(), realClock: realClock}
	if cfg.ForwardRate > 0 {
		s.limiter = ratelimit.New(cfg.ForwardRate, 2*cfg.ForwardRate, cfg.Now)
	}
	s.lastBeat.Store(s.started.UnixNano())
	s.metrics = newMetrics(s)
	s.mux = upstream.NewMux()
	if cfg.QueryLog != nil {
		s.queryLog = &queryLog{w: cfg.QueryLog}
	}
	p, err := compile(sc, &s.cfg, s.limiter, s.metrics, s.mux)
	if err != nil {
		s.mux.Close()
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	s.state.Store(&runState{plan: p, timeline: sc.Timeline(s.started, cfg.Speed)})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// checkExposure refuses to listen beyond loopback without an allow-list:
// an open resolver can be abused for amplification.
func checkExposure(listen string, allow []netip.Prefix) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("listen address %q: the host must be an IP address", listen)
	}
	if !a.IsLoopback() && len(allow) == 0 {
		return fmt.Errorf("listen address %s is not loopback: give --allow CIDR for the clients to answer, so dnsfault is not an open resolver", listen)
	}
	return nil
}

// Start binds UDP and TCP on the configured address and serves in the
// background until Shutdown; it returns once both listeners are ready.
func (s *Server) Start() error {
	pcs, ln, err := listen.UDPAndTCP(s.cfg.Listen, s.udpSockets())
	if err != nil {
		return err
	}
	abandon := func() {
		for _, b := range s.batches {
			b.Close()
		}
		s.batches = nil // a Shutdown after a failed Start must not close them again
		for _, pc := range pcs {
			pc.Close()
		}
		ln.Close()
	}
	s.addr = pcs[0].LocalAddr().String()
	// A larger receive buffer absorbs bursts the kernel would otherwise
	// drop before we read them; the system may grant less (rmem_max).
	for _, pc := range pcs {
		pc.SetReadBuffer(udpReadBuffer)
	}
	idle := s.cfg.TCPIdleTimeout
	s.tcp = &dns.Server{Listener: netutil.LimitListener(ln, s.cfg.MaxTCPConns), Handler: s,
		IdleTimeout: func() time.Duration { return idle }, ReadTimeout: idle}
	servers := []*dns.Server{s.tcp}
	if udpbatch.CanServe(pcs[0]) {
		// One reader per core in all: more only contend for the sockets.
		workers := max(runtime.GOMAXPROCS(0)/len(pcs), 1)
		for _, pc := range pcs {
			b, err := udpbatch.Serve(pc, s, workers)
			if err != nil {
				abandon()
				return fmt.Errorf("serving udp on %s: %w", s.addr, err)
			}
			s.batches = append(s.batches, b)
		}
	} else {
		// udpSockets asks for one socket where batches cannot serve;
		// should there be more, they are not needed.
		for _, pc := range pcs[1:] {
			pc.Close()
		}
		s.udp = &dns.Server{PacketConn: pcs[0], Handler: s, UDPSize: dns.MaxMsgSize}
		servers = append(servers, s.udp)
	}
	var ready sync.WaitGroup
	errc := make(chan error, 2)
	for _, srv := range servers {
		ready.Add(1)
		srv.NotifyStartedFunc = ready.Done
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				errc <- err
			}
		}()
	}
	started := make(chan struct{})
	go func() { ready.Wait(); close(started) }()
	select {
	case <-started:
	case err := <-errc:
		abandon()
		return fmt.Errorf("serving on %s: %w", s.addr, err)
	}
	p := s.state.Load().plan
	s.cfg.Logger.Info("serving", "addr", s.addr, "scenario", p.scenario.Name, "seed", int64(p.seed))
	return nil
}

// udpSockets is how many UDP sockets to share the port: one per core,
// where the kernel spreads clients across them (SO_REUSEPORT) and they are
// served in batches (udpbatch.CanServe); sockets of their own spare the
// readers the contention of one. One socket elsewhere.
func (s *Server) udpSockets() int {
	if s.cfg.UDPSockets > 0 {
		return s.cfg.UDPSockets
	}
	host, _, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil || host == "" || runtime.GOOS != "linux" {
		return 1
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

// Addr is the address the server listens on, with the port it got.
func (s *Server) Addr() string { return s.addr }

// InFlight is the number of queries being handled now, delayed ones
// included.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

// Seed is the seed in use, to print and report so a run can be replayed.
func (s *Server) Seed() int64 { return int64(s.state.Load().plan.seed) }

// Shutdown stops accepting queries, cuts short the delays of those in
// flight so they are answered, and waits for them until ctx ends. It is
// safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.cancel()
		// Answer the delayed UDP queries while the socket is still open;
		// queries waiting on an upstream fail now and are answered
		// SERVFAIL. Wait for both (pendingWG) before closing the sockets.
		s.firePending()
		s.mux.Close()
		answered := make(chan struct{})
		go func() { s.pendingWG.Wait(); close(answered) }()
		select {
		case <-answered:
		case <-ctx.Done():
		}
		var errs []error
		for _, b := range s.batches {
			errs = append(errs, b.Close())
		}
		for _, srv := range []*dns.Server{s.udp, s.tcp} {
			if srv != nil {
				errs = append(errs, srv.ShutdownContext(ctx))
			}
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
