package injector

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"

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
		rule := s.pipe.handshakeRule(t, hello.Conn.RemoteAddr())
		if rule == nil {
			return nil, nil
		}
		rule.hits.Add(1)
		s.cfg.Logger.Debug("tls-fail", "rule", rule.spec.Name, "mode", rule.spec.TLSMode, "client", hello.Conn.RemoteAddr().String(), "transport", t.String())
		if d := rule.delay(s.pipe.state.Load().plan.seed); d > 0 {
			sleep(s.pipe.ctx, d)
		}
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

// handshakeRule is the first tls-fail rule (ad-hoc, then the phase's)
// that takes a handshake from addr over t, or nil.
func (p *pipeline) handshakeRule(t scenarios.Transport, addr net.Addr) *rulePlan {
	st := p.state.Load()
	pos, off := p.position(st, p.cfg.Now())
	var client netip.Addr
	if a, ok := addr.(*net.TCPAddr); ok {
		client = a.AddrPort().Addr().Unmap()
	}
	mq := match.Query{Name: ".", Client: client, Transport: t, NameOnly: false}
	takes := func(r *rulePlan, progress float64) bool {
		return r.handshake && r.takes(st.plan.seed, r.spec.Probability.At(progress))
	}
	if st.adhoc != nil && !safetyOff(off) {
		if i := st.adhoc.matcher.First(&mq, func(i int) bool { return takes(st.adhoc.rules[i].plan, 0) }); i >= 0 {
			return st.adhoc.rules[i].plan
		}
	}
	if off != "" {
		return nil
	}
	ph := st.plan.phases[pos.Phase]
	if i := ph.matcher.First(&mq, func(i int) bool { return takes(ph.rules[i], pos.Progress) }); i >= 0 {
		return ph.rules[i]
	}
	return nil
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
