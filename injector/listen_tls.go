package injector

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/dnsfault/dnsfault/injector/tlscert"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The encrypted transports: DNS over TLS (this file) and DNS over HTTPS
// (listen_doh.go) share one certificate.

// tlsConfig is the encrypted listeners' TLS configuration: the operator's
// certificate, or one made now for the listeners' loopback addresses.
func (s *Server) tlsConfig(addrs ...string) (*tls.Config, error) {
	cert := s.cfg.TLSCert
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
		cert, s.caPEM = &made.Cert, made.CAPEM
	}
	return &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}, nil
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
	cfg := tlsCfg.Clone()
	cfg.NextProtos = []string{"dot"}
	return s.serveStream(tls.NewListener(ln, cfg), scenarios.DoT), nil
}
