// Package injector is the dnsfault DNS server: it listens on UDP and TCP,
// answers like a normal resolver (fake authoritative zones, then upstream),
// and injects the faults of the active scenario phase into the queries its
// rules take. ARCHITECTURE.md at the repository's root walks a query
// through it.
package injector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/ratelimit"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/scenarios"
)

// Server is a running dnsfault DNS server: it owns the listeners and the
// lifecycle, and steers the pipeline that answers queries (state.go).
type Server struct {
	cfg  Config
	pipe *pipeline
	mu   sync.Mutex // serialises control actions; queries never take it
	// adhocSeq numbers the ad-hoc rules added, for their random streams.
	adhocSeq uint64
	reload   atomic.Pointer[reloadResult]
	// recordErr is why the last write of --record failed (RecordWritten).
	recordErr atomic.Pointer[string]
	limiter   *ratelimit.Limiter // nil: no limit
	mux       *upstream.Mux      // forwarded UDP queries, for every plan
	keys      keyring            // the signed zones' generated keys
	cancel    context.CancelFunc // ends pipe.ctx

	probesMu sync.Mutex
	probes   map[string]*control.ProbeStatus // the service probes' latest results

	// The encrypted listeners' addresses, and the authority of a
	// certificate made at start (listen_tls.go).
	dotAddr, dohURL string
	caPEM           []byte
	wrongName       *tls.Certificate // tls-fail wrong-name's certificate

	announcer announcer
	watching  chan struct{} // closed when watchTimeline returns; nil before Start

	listeners []listener
	addr      string
	stopOnce  sync.Once
	stopErr   error
}

// listener serves one transport on the server's address; each transport
// has a file of its own (listen_udp.go, listen_tcp.go).
type listener interface {
	// shutdown stops serving; queries being answered finish until ctx ends.
	shutdown(ctx context.Context) error
}

// New compiles the scenario and returns a server ready to Start. Zero
// fields of cfg take their defaults (see Config).
func New(cfg Config, sc *scenarios.Scenario) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	realClock := cfg.Now == nil
	cfg = cfg.withDefaults()
	if realClock {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: upstream.NewMux(), announcer: announcer{wake: make(chan struct{}, 1)}}
	if cfg.ForwardRate > 0 {
		s.limiter = ratelimit.New(cfg.ForwardRate, 2*cfg.ForwardRate, cfg.Now)
	}
	p := &pipeline{cfg: &s.cfg, realClock: realClock, ttlScale: cfg.TTLScale(), started: cfg.Now(), held: heldQueries{max: int64(cfg.MaxHeld)}}
	if b := cfg.SigningBudget.Microseconds(); b > 0 {
		// In microseconds of work: a fifth of a second's budget at once.
		p.signing = ratelimit.New(float64(b), max(float64(b)/5, 1), cfg.Now)
	}
	p.lastBeat.Store(p.started.UnixNano())
	p.obs.metrics, p.obs.extra = newMetrics(s), cfg.Observe
	p.obs.live.init()
	if cfg.QueryLog != nil {
		p.obs.queryLog = &queryLog{w: cfg.QueryLog, logger: cfg.Logger, failed: p.obs.metrics.queryLogErrors}
	}
	p.ctx, s.cancel = context.WithCancel(context.Background())
	s.pipe = p
	pl, err := compile(sc, &s.cfg, s.limiter, p.obs.metrics, s.mux, &s.keys)
	if err != nil {
		s.cancel() // nothing else has started: no state, no ad-hoc rules yet
		s.mux.Close()
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	st := &runState{plan: pl, timeline: sc.Timeline(p.started, cfg.Speed)}
	if cfg.StartOnFirstQuery || cfg.HoldTimeline {
		st.off = offAwaiting
	}
	if cfg.StartOnFirstQuery {
		p.onFirst = s.startOnFirstQuery
		p.awaitFirst.Store(true)
	}
	p.state.Store(st)
	return s, nil
}

// Start binds UDP and TCP on the configured address and serves in the
// background until Shutdown; it returns once both listeners are ready.
func (s *Server) Start() error {
	pcs, ln, err := listen.UDPAndTCP(s.cfg.Listen, s.udpSockets())
	if err != nil {
		return err
	}
	s.addr = pcs[0].LocalAddr().String()
	tcp, err := s.serveTCP(ln)
	if err != nil {
		ln.Close()
		for _, pc := range pcs {
			pc.Close()
		}
		return fmt.Errorf("serving tcp on %s: %w", s.addr, err)
	}
	udp, err := s.serveUDP(pcs)
	if err != nil {
		tcp.shutdown(context.Background())
		return fmt.Errorf("serving udp on %s: %w", s.addr, err)
	}
	s.listeners = []listener{udp, tcp}
	if err := s.startEncrypted(); err != nil {
		for _, l := range s.listeners {
			l.shutdown(context.Background())
		}
		return err
	}
	pl := s.pipe.state.Load().plan
	s.cfg.Logger.Info("serving", "addr", s.addr, "scenario", pl.scenario.Name, "seed", int64(pl.seed))
	s.watching = make(chan struct{})
	go func() {
		defer close(s.watching)
		s.watchTimeline()
	}()
	return nil
}

// startEncrypted starts the DoT and DoH listeners asked for.
func (s *Server) startEncrypted() error {
	if s.cfg.DoT == "" && s.cfg.DoH == "" {
		return nil
	}
	dohAddr, dohPath, _ := ParseDoHURL(s.cfg.DoH) // checked by Validate
	tlsCfg, err := s.tlsConfig(s.cfg.DoT, dohAddr)
	if err != nil {
		return err
	}
	if s.cfg.DoT != "" {
		l, err := s.serveDoT(tlsCfg)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, l)
	}
	if s.cfg.DoH != "" {
		l, err := s.serveDoH(dohAddr, dohPath, tlsCfg)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, l)
	}
	return nil
}

// listenHint says what to do about a listener that could not bind.
func listenHint(err error, addr string) string { return listen.Hint(err, addr, "--listen") }

// activate serves srv in the background and returns once it is ready, or
// with the error that kept it from starting.
func activate(srv *dns.Server) error {
	ready := make(chan struct{})
	errc := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(ready) }
	go func() {
		if err := srv.ActivateAndServe(); err != nil {
			errc <- err
		}
	}()
	select {
	case <-ready:
		return nil
	case err := <-errc:
		return err
	}
}

// transportHandler hands a listener's queries to the pipeline, saying
// which transport they came over.
type transportHandler struct {
	pipe      *pipeline
	transport scenarios.Transport
}

// ServeDNS implements dns.Handler.
func (h transportHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	h.pipe.serve(w, r, h.transport)
}

// Addr is the address the server listens on, with the port it got.
func (s *Server) Addr() string { return s.addr }

// InFlight is the number of queries being handled now, delayed ones
// included.
func (s *Server) InFlight() int64 { return s.pipe.lives.inFlight.Load() }

// Params are the parameter values of the scenario in force.
func (s *Server) Params() map[string]string { return s.pipe.state.Load().plan.scenario.Params }

// Seed is the seed in use, to print and report so a run can be replayed.
func (s *Server) Seed() int64 { return int64(s.pipe.state.Load().plan.seed) }

// Shutdown stops accepting queries, cuts short the delays of those in
// flight so they are answered, and waits for them until ctx ends. It is
// safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.cancel()
		// Answer the delayed UDP queries while the sockets are still
		// open; queries waiting on an upstream fail now and are answered
		// SERVFAIL. Wait for both before closing the sockets.
		s.pipe.lives.close()
		s.mux.Close()
		s.pipe.lives.wait(ctx)
		var errs []error
		for _, l := range s.listeners {
			errs = append(errs, l.shutdown(ctx))
		}
		if s.watching != nil {
			<-s.watching
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
