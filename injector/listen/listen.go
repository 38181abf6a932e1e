// Package listen binds the UDP and TCP sockets of one DNS address.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// UDPReadBuffer is the receive buffer dnsfault's UDP sockets ask for,
// toward clients and upstreams: it absorbs bursts the kernel would
// otherwise drop before they are read (the system may grant less:
// rmem_max).
const UDPReadBuffer = 4 << 20

// attempts is how many free ports UDPAndTCP tries with port 0.
const attempts = 50

// UDPAndTCP binds TCP and then udpSockets UDP sockets (at least one) on
// the same address and port. With port 0 the port the system picks for
// one protocol may be taken for the other, so it tries again. TCP picks
// first: short-lived TCP connections hold their ports for a minute after
// they close (TIME_WAIT), so a port free for UDP is often taken for TCP,
// while UDP ports are freed at once.
//
// Several UDP sockets share the port through SO_REUSEPORT, which only
// Linux balances (by each client's address and port); elsewhere asking
// for more than one is an error.
func UDPAndTCP(addr string, udpSockets int) ([]*net.UDPConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listening on %s/tcp: %w", addr, err)
		}
		pcs, err := udp(ln.Addr().String(), max(udpSockets, 1))
		if err == nil {
			return pcs, ln, nil
		}
		ln.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("listening on %s/udp: %w", addr, lastErr)
}

// udp binds n UDP sockets on addr, sharing it when n > 1.
func udp(addr string, n int) ([]*net.UDPConn, error) {
	var lc net.ListenConfig
	if n > 1 {
		lc.Control = reusePort
	}
	pcs := make([]*net.UDPConn, 0, n)
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, pc := range pcs {
				pc.Close()
			}
			return nil, err
		}
		pcs = append(pcs, pc.(*net.UDPConn))
	}
	return pcs, nil
}

// IsLoopback tells whether host, "localhost" or an IP address, is a
// loopback address. Any other name is an error: it could resolve anywhere.
func IsLoopback(host string) (bool, error) {
	if host == "localhost" {
		return true, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false, errors.New("the host must be an IP address")
	}
	return a.IsLoopback(), nil
}
