// Package listen binds the UDP and TCP sockets of one DNS address.
package listen

import (
	"fmt"
	"net"
)

// attempts is how many free ports UDPAndTCP tries with port 0.
const attempts = 50

// UDPAndTCP binds TCP and then UDP on the same address and port. With port
// 0 the port the system picks for one protocol may be taken for the other,
// so it tries again. TCP picks first: short-lived TCP connections hold
// their ports for a minute after they close (TIME_WAIT), so a port free
// for UDP is often taken for TCP, while UDP ports are freed at once.
func UDPAndTCP(addr string) (net.PacketConn, net.Listener, error) {
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
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			return pc, ln, nil
		}
		ln.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("listening on %s/udp: %w", addr, lastErr)
}
