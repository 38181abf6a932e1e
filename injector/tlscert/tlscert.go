// Package tlscert gives the encrypted listeners (DoT, DoH) their
// certificate: the operator's (--tls-cert, --tls-key), or on loopback one
// made at start and signed by a certificate authority made with it, whose
// certificate clients are given to trust (--tls-ca-out).
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Load reads the operator's certificate and key (PEM).
func Load(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// Made is a certificate made at start: the server's, and the PEM of the
// authority that signed it, for clients to trust; and WrongName, signed by
// the same authority for a name no client asks for (tls-fail wrong-name:
// the only thing wrong with it is the name).
type Made struct {
	Cert      tls.Certificate
	WrongName tls.Certificate
	CAPEM     []byte
}

// WrongHost is the name WrongName is made for.
const WrongHost = "wrong-name.dnsfault.invalid"

// lifetime is how long a made certificate is valid: a day more than any
// drill, never years (it is never revoked).
const lifetime = 7 * 24 * time.Hour

// Make makes an authority and a certificate for hosts (IP addresses and
// names) signed by it, both ECDSA P-256, valid from a minute ago for a
// week. The authority's key is dropped once it has signed.
func Make(hosts []string) (Made, error) {
	now := time.Now().Add(-time.Minute)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Made{}, err
	}
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "dnsfault test CA (made at start, for this run only)"},
		NotBefore:             now,
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return Made{}, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return Made{}, err
	}
	cert, err := leaf(hosts, caCert, caKey, now)
	if err != nil {
		return Made{}, err
	}
	wrong, err := leaf([]string{WrongHost}, caCert, caKey, now)
	if err != nil {
		return Made{}, err
	}
	return Made{Cert: cert, WrongName: wrong, CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}, nil
}

// leaf makes a server certificate for hosts, signed by the authority.
func leaf(hosts []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "dnsfault"},
		NotBefore:    now,
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}
