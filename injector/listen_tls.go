package injector

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/injector/tlscert"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The encrypted transports: DNS over TLS (this file) and DNS over HTTPS
// (listen_doh.go) share one certificate.

// tlsConfig is the encrypted listeners' TLS configuration: the operator's
// certificate, or one made now for the listeners' loopback addresses.
func (s *Server) tlsConfig(addrs ...string) (*tls.Config, error) {
	cert := s.cfg.TLSCert
	wrong, err := tlscert.Make([]string{tlscert.WrongHost}) // another authority's, for the wrong name
	if err != nil {
		return nil, fmt.Errorf("making a TLS certificate: %w", err)
	}
	s.wrongName = &wrong.WrongName
	if cert == nil {
		hosts := []string{"localhost", "127.0.0.1", "::1"}
		for _, a := range addrs {
			if host, _, err := net.SplitHostPort(a); err == nil && host != "" {
				hosts = append(hosts, host)
			}
		}
		made, err := tlscert.Make(hosts)
		if err != nil {
			return nil, fmt.Errorf("making a TLS certificate: %w", err)
		}
		cert, s.caPEM, s.wrongName = &made.Cert, made.CAPEM, &made.WrongName
	}
	return &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}, nil
}

// errHandshakeFault is how a tls-fail rule fails a handshake (close).
var errHandshakeFault = errors.New("dnsfault: tls-fail")

// withHandshakeFaults makes base consult the rules at each handshake over
// t: a tls-fail rule that takes the client fails it (close), answers with
// a certificate for another name (wrong-name), or holds it for the rule's
// delay (slow). It waits in the connection's own goroutine.
func (s *Server) withHandshakeFaults(base *tls.Config, t scenarios.Transport) *tls.Config {
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		began := time.Now()
		client := clientAddr(hello.Conn.RemoteAddr())
		rule, adhoc, phase := s.pipe.handshakeRule(t, client)
		if rule == nil {
			return nil, nil
		}
		rule.took(0) // a handshake: no type
		if d := rule.delay(s.pipe.state.Load().plan.seed); d > 0 {
			sleep(s.pipe.ctx, d)
		}
		// The handshake is the client's only exchange: it counts in the
		// metrics, the query log and run's report as a query would.
		ev := Event{Time: s.cfg.Now(), Client: client, Transport: t, Phase: phase, Rule: rule.spec.Name, AdHoc: adhoc,
			Action: string(rule.spec.Action), Sent: SentHandshake, Handshake: rule.spec.TLSMode, TTL: -1, Latency: time.Since(began)}
		s.pipe.obs.observe(&ev, nil)
		switch rule.spec.TLSMode {
		case scenarios.TLSWrongName:
			wrong := base.Clone()
			wrong.Certificates = []tls.Certificate{*s.wrongName}
			return wrong, nil
		case scenarios.TLSSlow:
			return nil, nil
		}
		return nil, errHandshakeFault
	}
	return cfg
}

// clientAddr is the client's address of a stream connection.
func clientAddr(addr net.Addr) netip.Addr {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// handshakeRule is the first tls-fail rule (ad-hoc, then the phase's)
// that takes a handshake from client over t, or nil; and the phase it
// came in ("" when faults are off).
func (p *pipeline) handshakeRule(t scenarios.Transport, client netip.Addr) (rule *rulePlan, adhoc bool, phase string) {
	mq := match.Query{Name: ".", Client: client, Transport: t}
	d := p.decideRule(p.state.Load(), &mq, p.cfg.Now(), forHandshake)
	return d.rule, d.adhoc, d.phase
}

// CA is the PEM of the authority that signed the certificate made at
// start, for clients to trust; nil when the operator gave one.
func (s *Server) CA() []byte { return s.caPEM }

// DoTAddr is the DNS-over-TLS listener's address, "" without one.
func (s *Server) DoTAddr() string { return s.dotAddr }

// DoHURL is the DNS-over-HTTPS listener's URL, "" without one.
func (s *Server) DoHURL() string { return s.dohURL }

// serveDoT serves DNS over TLS (RFC 7858): DNS over TCP (tcpserve, with
// its bounds) inside TLS, the handshake done by each connection's reader.
func (s *Server) serveDoT(tlsCfg *tls.Config) (listener, error) {
	ln, err := net.Listen("tcp", s.cfg.DoT)
	if err != nil {
		return nil, fmt.Errorf("DoT: %w%s", err, listenHint(err, s.cfg.DoT))
	}
	s.dotAddr = ln.Addr().String()
	cfg := s.withHandshakeFaults(tlsCfg, scenarios.DoT)
	cfg.NextProtos = []string{"dot"}
	return s.serveStream(tls.NewListener(listen.Coalescing(ln), cfg), scenarios.DoT), nil
}
