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
	names := transportNames[1:]
	return AnyTransport, fmt.Errorf("transport must be %s or %s, got %q", strings.Join(names[:len(names)-1], ", "), names[len(names)-1], s)
}

// Transports is a set of transports, a rule's match.transport: empty,
// every transport.
type Transports uint8

// TransportSet is the set of ts.
func TransportSet(ts ...Transport) Transports {
	var s Transports
	for _, t := range ts {
		s |= 1 << t
	}
	return s
}

// Any tells whether the set holds every transport (no condition).
func (s Transports) Any() bool { return s == 0 }

// Has tells whether a query over t meets the condition.
func (s Transports) Has(t Transport) bool { return s == 0 || s&(1<<t) != 0 }

// Only tells whether the set is exactly t.
func (s Transports) Only(t Transport) bool { return s == 1<<t }

// String lists the set's transports, "udp/tcp"; "" for every transport.
func (s Transports) String() string {
	var names []string
	for t := UDP; int(t) < len(transportNames); t++ {
		if s&(1<<t) != 0 {
			names = append(names, t.String())
		}
	}
	return strings.Join(names, "/")
}
