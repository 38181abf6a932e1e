package injector

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/udpbatch"
	"github.com/dnsfault/dnsfault/scenarios"
)

// udpListener serves DNS over UDP: in batches (udpbatch: recvmmsg,
// sendmmsg, prepacked answers) on sockets bound to one address, one
// server per socket sharing the port; else with miekg/dns, whose answers
// leave from the address each query came to.
type udpListener struct {
	batches []*udpbatch.Server
	srv     *dns.Server
}

// udpHandler is the UDP transport's handler: the full path, and the
// prepacked answers that batches try first (udpbatch.RawHandler).
type udpHandler struct{ pipe *pipeline }

func (h udpHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) { h.pipe.serve(w, r, scenarios.UDP) }

// ServeRaw implements udpbatch.RawHandler.
func (h udpHandler) ServeRaw(query []byte, from netip.AddrPort, out []byte) int {
	return h.pipe.serveRaw(query, from, out)
}

var _ udpbatch.RawHandler = udpHandler{}

func (s *Server) serveUDP(pcs []*net.UDPConn) (listener, error) {
	if a, ok := pcs[0].LocalAddr().(*net.UDPAddr); ok && !a.IP.IsUnspecified() {
		s.pipe.udpLocal = a.AddrPort() // where prepacked answers leave from (dnstap)
	}
	for _, pc := range pcs {
		pc.SetReadBuffer(listen.UDPReadBuffer)
	}
	h := udpHandler{s.pipe}
	l := &udpListener{}
	if udpbatch.CanServe(pcs[0]) {
		// One reader per core in all: more only contend for the sockets.
		workers := max(runtime.GOMAXPROCS(0)/len(pcs), 1)
		for i, pc := range pcs {
			b, err := udpbatch.Serve(pc, h, workers)
			if err != nil {
				l.shutdown(context.Background())
				for _, pc := range pcs[i:] {
					pc.Close()
				}
				return nil, err
			}
			l.batches = append(l.batches, b)
		}
		return l, nil
	}
	// udpSockets asks for one socket where batches cannot serve; should
	// there be more, they are not needed.
	for _, pc := range pcs[1:] {
		pc.Close()
	}
	l.srv = &dns.Server{PacketConn: pcs[0], Handler: h, UDPSize: dns.MaxMsgSize}
	if err := activate(l.srv); err != nil {
		pcs[0].Close()
		return nil, err
	}
	return l, nil
}

func (l *udpListener) shutdown(ctx context.Context) error {
	var errs []error
	for _, b := range l.batches {
		errs = append(errs, b.Close())
	}
	if l.srv != nil {
		errs = append(errs, l.srv.ShutdownContext(ctx))
	}
	return errors.Join(errs...)
}

// udpSockets is how many UDP sockets to share the port: one per core,
// where the kernel spreads clients across them (SO_REUSEPORT) and they are
// served in batches (udpbatch.CanServe), wildcard addresses included;
// sockets of their own spare the readers the contention of one. One
// socket elsewhere.
func (s *Server) udpSockets() int {
	if s.cfg.UDPSockets > 0 {
		return s.cfg.UDPSockets
	}
	host, _, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil || runtime.GOOS != "linux" {
		return 1
	}
	if host == "" { // ":53" is every address, as "0.0.0.0:53"
		return runtime.GOMAXPROCS(0)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return 1 // a host name: one socket, as miekg/dns would bind
	}
	return runtime.GOMAXPROCS(0)
}
