// Package listen binds the UDP and TCP sockets of one DNS address.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
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
			return nil, nil, fmt.Errorf("listening on %s/tcp: %w%s", addr, err, Hint(err, addr, "--listen"))
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
	return nil, nil, fmt.Errorf("listening on %s/udp: %w%s", addr, lastErr, Hint(lastErr, addr, "--listen"))
}

// Hint says what to do about a failure to bind addr, which flag sets:
// another program holds the port, or the port needs privileges.
func Hint(err error, addr, flag string) string {
	_, port, _ := net.SplitHostPort(addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Sprintf(" (another program holds port %s, perhaps another dnsfault: `ss -lntup 'sport = :%s'` names it; give %s another address, or port 0 for a free one)", port, port, flag)
	case errors.Is(err, syscall.EACCES):
		return fmt.Sprintf(" (ports below 1024 need privileges: listen on a high port such as 1053 and point clients there, or allow it with `sudo setcap cap_net_bind_service=+ep %s`)", executable())
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Sprintf(" (no interface of this host has that address: give %s one it has, 127.0.0.1 for this host alone)", flag)
	}
	return ""
}

func executable() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "dnsfault"
}

// Display is addr as a client would reach it: an unspecified host (every
// address) is written as the loopback address of its family.
func Display(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsUnspecified() {
		return addr
	}
	// 127.0.0.1 reaches a socket on [::] too (dual stack).
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
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
	if host == "" {
		return false, nil // ":53": every address of the host
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false, errors.New("the host must be an IP address, localhost, or nothing (\":53\") for every address")
	}
	return a.IsLoopback(), nil
}
