//go:build !linux

package udpbatch

import (
	"net"
	"net/netip"
)

// Conn reads and writes one UDP socket's datagrams. Outside Linux there
// is no recvmmsg or sendmmsg: a batch is one datagram.
type Conn struct{ conn *net.UDPConn }

// NewConn returns a Conn on conn.
func NewConn(conn *net.UDPConn) (*Conn, error) { return &Conn{conn: conn}, nil }

// ReadBatch reads one datagram into ms[0]. One that fills Buf is taken as
// cut short (Truncated): no portable flag says so.
func (c *Conn) ReadBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	n, _, _, from, err := c.conn.ReadMsgUDPAddrPort(ms[0].Buf, nil)
	if err != nil {
		return 0, err
	}
	ms[0].N, ms[0].Addr, ms[0].Truncated = n, from, n == len(ms[0].Buf)
	return 1, nil
}

// WriteBatch sends ms[0].
func (c *Conn) WriteBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	var err error
	if ms[0].Addr.IsValid() {
		_, err = c.conn.WriteToUDPAddrPort(ms[0].Buf, ms[0].Addr)
	} else {
		_, err = c.conn.Write(ms[0].Buf)
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// writeFrom sends b to to. Outside Linux wildcard sockets are not served
// in batches (CanServe), so there is no local address to send from.
func writeFrom(conn *net.UDPConn, b []byte, to netip.AddrPort, _ netip.Addr) (int, error) {
	return conn.WriteToUDPAddrPort(b, to)
}
