package injector

import (
	"context"
	"net"

	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/tcpserve"
	"github.com/dnsfault/dnsfault/scenarios"
)

// tcpInFlight bounds the queries of one TCP connection answered at once.
const tcpInFlight = 64

// tcpListener serves DNS over TCP (tcpserve: pipelined, RFC 7766), bounded
// in connections, per client and in all (--max-tcp-conns,
// --max-tcp-conns-per-client), and in idle time (--tcp-idle-timeout), so
// slow, idle or greedy clients cannot starve others.
type tcpListener struct{ srv *tcpserve.Server }

func (s *Server) serveTCP(ln net.Listener) (listener, error) {
	return s.serveStream(ln, scenarios.TCP), nil
}

// serveStream serves DNS over a stream listener (TCP, or TLS for DoT)
// within the TCP bounds.
func (s *Server) serveStream(ln net.Listener, t scenarios.Transport) listener {
	maxConns := listen.StreamConnCap(s.cfg.MaxTCPConns, s.streamListeners())
	srv := tcpserve.Serve(ln, transportHandler{s.pipe, t}, tcpserve.Limits{
		MaxConns:  maxConns,
		PerClient: min(s.cfg.MaxTCPConnsPerClient, maxConns),
		InFlight:  tcpInFlight,
		Idle:      s.cfg.TCPIdleTimeout,
	})
	return tcpListener{srv}
}

// streamListeners is how many stream listeners share the file
// descriptors: TCP, and DoT and DoH when they are on.
func (s *Server) streamListeners() int {
	n := 1
	if s.cfg.DoT != "" {
		n++
	}
	if s.cfg.DoH != "" {
		n++
	}
	return n
}

func (l tcpListener) shutdown(ctx context.Context) error { return l.srv.Shutdown(ctx) }
