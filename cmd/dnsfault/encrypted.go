package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/safefile"
	"github.com/dnsfault/dnsfault/injector/tlscert"
)

// listens is --listen read: the plain address (UDP and TCP), and the DNS
// over TLS and DNS over HTTPS listeners.
type listens struct{ plain, dot, doh string }

// parseListens reads --listen: ADDR, tls://ADDR and https://ADDR/PATH, each
// at most once.
func parseListens(values []string) (listens, error) {
	var l listens
	set := func(field *string, kind, v string) error {
		if *field != "" {
			return fmt.Errorf("--listen: two %s listeners (%s and %s): give one", kind, *field, v)
		}
		*field = v
		return nil
	}
	for _, v := range values {
		var err error
		switch {
		case strings.HasPrefix(v, "tls://"):
			err = set(&l.dot, "tls://", strings.TrimPrefix(v, "tls://"))
		case strings.HasPrefix(v, "https://"):
			if _, _, perr := injector.ParseDoHURL(v); perr != nil {
				return l, fmt.Errorf("--listen: %w", perr)
			}
			err = set(&l.doh, "https://", v)
		case strings.Contains(v, "://"):
			return l, fmt.Errorf("--listen %q: want ADDR, tls://ADDR or https://ADDR/PATH", v)
		default:
			err = set(&l.plain, "plain", v)
		}
		if err != nil {
			return l, err
		}
	}
	if l.plain == "" {
		l.plain = injector.DefaultListen
	}
	return l, nil
}

// tlsCert reads --tls-cert and --tls-key; nil when neither is given.
func tlsCert(c *cli.Context) (*tls.Certificate, error) {
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, fmt.Errorf("give --tls-cert and --tls-key together")
	}
	cert, err := tlscert.Load(certFile, keyFile)
	return &cert, err
}

// announceEncrypted says where the encrypted listeners are and writes the
// authority of a certificate made at start where --tls-ca-out says, or to
// a temporary file that remove deletes at exit; it returns its path.
func announceEncrypted(c *cli.Context, srv *injector.Server, prefix string) (caFile string, remove func(), err error) {
	remove = func() {}
	if srv.DoTAddr() == "" && srv.DoHURL() == "" {
		return "", remove, nil
	}
	if ca := srv.CA(); ca != nil {
		caFile = c.String("tls-ca-out")
		if caFile == "" {
			caFile = filepath.Join(os.TempDir(), fmt.Sprintf("dnsfault-ca-%d.pem", os.Getpid()))
			remove = func() { os.Remove(caFile) }
		}
		if err := safefile.Write(caFile, func(w io.Writer) error {
			_, err := w.Write(ca)
			return err
		}); err != nil {
			return "", remove, fmt.Errorf("--tls-ca-out: %w", err)
		}
	}
	var parts []string
	if a := srv.DoTAddr(); a != "" {
		parts = append(parts, "DNS over TLS on "+a)
	}
	if u := srv.DoHURL(); u != "" {
		parts = append(parts, "DNS over HTTPS at "+u)
	}
	trust := "with the certificate of --tls-cert"
	if caFile != "" {
		trust = "trust the CA made at start: " + caFile
	}
	fmt.Fprintf(os.Stderr, "%s: %s (%s)\n", prefix, strings.Join(parts, ", "), trust)
	return caFile, remove, nil
}
