// Package listen binds the UDP and TCP sockets of one DNS address.
package listen

import (
	"fmt"
	"net"
)

// UDPAndTCP binds UDP and then TCP on the same address and port. With port
// 0 the port the system picks for UDP may be taken for TCP, so it tries a
// few times.
func UDPAndTCP(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listening on %s/udp: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("listening on %s/tcp: %w", addr, lastErr)
}
