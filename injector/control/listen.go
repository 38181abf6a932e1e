package control

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dnsfault/dnsfault/injector/listen"
)

// The control server's bounds: connections open at once (idle ones give
// way to new ones: see connCap), and how long a request may take to
// arrive, be answered, or a kept-alive connection may idle.
const (
	maxConns          = 64
	readHeaderTimeout = 10 * time.Second
	requestTimeout    = 30 * time.Second
	idleTimeout       = 30 * time.Second
)

// Server is the control API listening on an address.
type Server struct {
	http  *http.Server
	addr  string
	done  chan struct{}
	conns *connCap
}

// Listen serves the control API and dashboard of e on addr. Beyond
// loopback it requires a token, since whoever reaches the API can steer
// the faults of every client.
// hosts are the DNS names, besides localhost, that may reach it as its
// Host (--control-host).
func Listen(addr string, e Engine, token string, logger *slog.Logger, hosts ...string) (*Server, error) {
	if err := CheckExposure(addr, token); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control API: %w%s", err, listen.Hint(err, addr, "--control"))
	}
	// Shutdown closes closing, which ends the dashboards' live streams:
	// they never go idle by themselves.
	closing := make(chan struct{})
	capped := newConnCap(ln, maxConns)
	s := &Server{
		http: &http.Server{
			Handler:           Handler(e, token, logger, closing, hosts...),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       requestTimeout,
			WriteTimeout:      requestTimeout,
			IdleTimeout:       idleTimeout,
			ConnState:         capped.track,
		},
		addr:  ln.Addr().String(),
		done:  make(chan struct{}),
		conns: capped,
	}
	s.http.RegisterOnShutdown(func() { close(closing) })
	go func() {
		defer close(s.done)
		s.http.Serve(capped) // returns http.ErrServerClosed after Shutdown
	}()
	return s, nil
}

// Addr is the address the API listens on, with its port.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops the API, letting requests in progress finish until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	<-s.done
	return err
}

// CheckExposure refuses a control address beyond loopback without a token.
func CheckExposure(addr, token string) error {
	if token == "" && !isLoopback(addr) {
		return fmt.Errorf("control address %s is not loopback: give --token (or DNSFAULT_TOKEN) so only operators can steer faults", addr)
	}
	return nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	loopback, err := listen.IsLoopback(host)
	return err == nil && loopback
}
