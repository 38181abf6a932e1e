package udpbatch

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// writer is the dns.ResponseWriter of one datagram. While it belongs to a
// worker its answer joins the batch; once detached or hijacked it writes
// straight to the socket, from whichever goroutine answers.
type writer struct {
	wk     *worker // nil once detached
	slot   int
	peer   netip.AddrPort
	local  netip.Addr // the address the query came to, on a wildcard socket
	remote net.Addr   // peer as RemoteAddr gives it, made when first asked for
	wrote  bool       // an answer is in the batch already

	late      *Sender      // set when detached
	conn      *net.UDPConn // set when detached
	handedOff bool         // Detach gave the worker to another goroutine
}

var (
	_ dns.ResponseWriter = (*writer)(nil)
	_ Detacher           = (*writer)(nil)
)

// WriteMsg implements dns.ResponseWriter.
func (w *writer) WriteMsg(m *dns.Msg) error {
	if w.wk == nil || w.wrote {
		b, err := m.Pack()
		if err != nil {
			return err
		}
		if w.late != nil && w.late.Send(b, w.peer, w.local) {
			return nil
		}
		_, err = w.Write(b)
		return err
	}
	b, err := m.PackBuffer(w.wk.answers[w.slot])
	if err != nil {
		return err
	}
	w.wrote = true
	w.wk.queue(w, b)
	return nil
}

// Write implements dns.ResponseWriter.
func (w *writer) Write(b []byte) (int, error) {
	if w.wk == nil || w.wrote {
		conn := w.conn
		if w.wk != nil {
			conn = w.wk.s.conn
		}
		if w.local.IsValid() {
			return writeFrom(conn, b, w.peer, w.local)
		}
		return conn.WriteToUDPAddrPort(b, w.peer)
	}
	room := w.wk.answers[w.slot]
	if len(b) <= len(room) {
		b = room[:copy(room, b)]
	} else {
		b = append([]byte(nil), b...)
	}
	w.wrote = true
	w.wk.queue(w, b)
	return len(b), nil
}

// Detach implements Detacher: another goroutine takes over the worker.
func (w *writer) Detach() {
	if w.wk == nil {
		return
	}
	wk := w.wk
	wk.detach(w)
	w.handedOff = true
	wk.s.handOff(wk)
}

// Hijack implements dns.ResponseWriter: the handler answers later, from
// another goroutine, while this one goes on with the batch.
func (w *writer) Hijack() {
	if w.wk != nil {
		w.wk.detach(w)
	}
}

// LocalAddr implements dns.ResponseWriter: the address the query came
// to (on a wildcard socket, the one it named).
func (w *writer) LocalAddr() net.Addr {
	conn := w.conn
	if w.wk != nil {
		conn = w.wk.s.conn
	}
	a := conn.LocalAddr()
	if u, ok := a.(*net.UDPAddr); ok && w.local.IsValid() {
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(w.local, uint16(u.Port)))
	}
	return a
}

// RemoteAddr implements dns.ResponseWriter.
func (w *writer) RemoteAddr() net.Addr {
	if w.remote == nil {
		w.remote = net.UDPAddrFromAddrPort(w.peer)
	}
	return w.remote
}

// Close implements dns.ResponseWriter; there is no connection to close.
func (w *writer) Close() error { return nil }

// TsigStatus implements dns.ResponseWriter. No TSIG key is configured,
// so, as with miekg/dns's server, there is no status to report.
func (w *writer) TsigStatus() error { return nil }

// TsigTimersOnly implements dns.ResponseWriter.
func (w *writer) TsigTimersOnly(bool) {}
