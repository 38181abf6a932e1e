package injector

import (
	"context"
	"net"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/netutil"

	"github.com/dnsfault/dnsfault/scenarios"
)

// tcpListener serves DNS over TCP with miekg/dns, bounded in connections
// (--max-tcp-conns) and idle time (--tcp-idle-timeout), so slow or idle
// clients cannot starve others.
type tcpListener struct{ srv *dns.Server }

func (s *Server) serveTCP(ln net.Listener) (listener, error) {
	idle := s.cfg.TCPIdleTimeout
	srv := &dns.Server{
		Listener:    netutil.LimitListener(ln, s.cfg.MaxTCPConns),
		Handler:     transportHandler{s.pipe, scenarios.TCP},
		IdleTimeout: func() time.Duration { return idle },
		ReadTimeout: idle,
	}
	if err := activate(srv); err != nil {
		ln.Close()
		return nil, err
	}
	return tcpListener{srv}, nil
}

func (l tcpListener) shutdown(ctx context.Context) error { return l.srv.ShutdownContext(ctx) }
