// Command resolve looks names up with Go's resolver pointed at dnsfault
// ($DNSFAULT_ADDR, as `dnsfault run` sets it; 127.0.0.1:1053 otherwise)
// and prints what each gave: the addresses, or the kind of failure.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: resolve NAME... (asks $DNSFAULT_ADDR, or 127.0.0.1:1053)\n  e.g. go run ./examples/clients/go nxdomain.demo.test servfail.demo.test")
		os.Exit(2)
	}
	addr := os.Getenv("DNSFAULT_ADDR")
	if addr == "" {
		addr = "127.0.0.1:1053"
	}
	resolver := &net.Resolver{
		PreferGo: true, // Go's own resolver, so Dial decides where queries go
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	for _, name := range os.Args[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		addrs, err := resolver.LookupHost(ctx, name)
		cancel()
		fmt.Printf("%s: %s\n", name, describe(addrs, err))
	}
}

func describe(addrs []string, err error) string {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return fmt.Sprint(addrs)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "not found (NXDOMAIN or no records)"
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return "timeout"
	case errors.As(err, &dnsErr) && dnsErr.IsTemporary:
		return "temporary failure (SERVFAIL)"
	default:
		return "error: " + err.Error()
	}
}
