package scenarios

import (
	"fmt"
	"strings"
)

// Transport is how a query reached the server. The zero value,
// AnyTransport, is a match condition that every transport meets.
type Transport uint8

// The transports. A new one is added here and gets a listener of its own
// in the injector.
const (
	AnyTransport Transport = iota
	UDP
	TCP
	DoT // DNS over TLS (RFC 7858)
	DoH // DNS over HTTPS (RFC 8484)
)

// transportNames are the transports' names in scenario files, metrics and
// the query log.
var transportNames = [...]string{AnyTransport: "", UDP: "udp", TCP: "tcp", DoT: "dot", DoH: "doh"}

// String is the transport's name: udp, tcp, dot, doh; "" for AnyTransport.
func (t Transport) String() string {
	if int(t) < len(transportNames) {
		return transportNames[t]
	}
	return fmt.Sprintf("transport(%d)", uint8(t))
}

// Stream tells whether the transport carries DNS over a connection, where
// answers are not truncated to fit a datagram.
func (t Transport) Stream() bool { return t != UDP }

// ParseTransport reads a transport's name, in any case.
func ParseTransport(s string) (Transport, error) {
	lower := strings.ToLower(s)
	for t, name := range transportNames {
		if name != "" && name == lower {
			return Transport(t), nil
		}
	}
	var names []string
	for _, name := range transportNames[1:] {
		names = append(names, name)
	}
	return AnyTransport, fmt.Errorf("transport must be %s or %s, got %q", strings.Join(names[:len(names)-1], ", "), names[len(names)-1], s)
}
