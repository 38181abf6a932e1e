package udpbatch

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn reads and writes one UDP socket's datagrams in batches, with
// recvmmsg and sendmmsg. It holds the system calls' scratch space, so
// each goroutine needs a Conn of its own; several may share a socket.
//
// The calls are made without telling the Go scheduler (raw system calls
// on a non-blocking socket): a batch of sends takes long enough that the
// scheduler would otherwise hand the thread's processor to another thread
// in the meantime, and waking that one to poll the network cost more than
// the sends themselves (measured: 15% of the CPU per query). Waiting for a
// datagram still goes through the netpoller.
type Conn struct {
	rc    syscall.RawConn
	v4    bool // an IPv4 socket: peers are written as sockaddr_in
	hdrs  [BatchSize]mmsghdr
	iovs  [BatchSize]unix.Iovec
	names [BatchSize]unix.RawSockaddrInet6 // room for either family
	// pktinfo says the socket is bound to a wildcard address: each
	// datagram read says the address it came to (IP_PKTINFO,
	// IPV6_PKTINFO), and each answer leaves from it, in controls.
	pktinfo  bool
	controls [BatchSize][controlSize]byte

	// The call in progress, for the callbacks (kept as fields so that a
	// call allocates nothing).
	count           int // messages given
	done            int // messages read or written
	errno           syscall.Errno
	readFn, writeFn func(fd uintptr) bool
}

// mmsghdr is struct mmsghdr: a msghdr and the length the kernel moved.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// NewConn returns a Conn on conn.
func NewConn(conn *net.UDPConn) (*Conn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &Conn{rc: rc}
	a, ok := conn.LocalAddr().(*net.UDPAddr)
	if ok && a.IP.To4() != nil {
		c.v4 = true
	}
	if ok && a.IP.IsUnspecified() {
		level, opt := unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO
		if c.v4 {
			level, opt = unix.IPPROTO_IP, unix.IP_PKTINFO
		}
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, 1) }); err != nil {
			return nil, err
		}
		if serr != nil {
			return nil, os.NewSyscallError("setsockopt", serr)
		}
		c.pktinfo = true
	}
	c.readFn, c.writeFn = c.recv, c.send
	return c, nil
}

// controlSize is room for one packet-info control message of either
// family (CMSG_SPACE of struct in6_pktinfo, the larger).
const controlSize = 64

// ReadBatch reads up to len(ms) datagrams, at most BatchSize, waiting for
// the first. It returns how many it read; each one's N, Addr and
// Truncated are set. A closed socket gives net.ErrClosed.
func (c *Conn) ReadBatch(ms []Message) (int, error) {
	c.prepare(ms, true)
	if err := c.rc.Read(c.readFn); err != nil {
		return 0, err
	}
	if c.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", c.errno)
	}
	for i := range c.done {
		h := &c.hdrs[i]
		ms[i].N = int(h.len)
		ms[i].Truncated = h.hdr.Flags&unix.MSG_TRUNC != 0
		ms[i].Addr = c.peer(i)
		ms[i].Local = netip.Addr{}
		if c.pktinfo {
			ms[i].Local = c.local(i, int(h.hdr.Controllen))
		}
	}
	return c.done, nil
}

// WriteBatch sends up to len(ms) datagrams, at most BatchSize, and
// returns how many were sent. When none was, the error says why the
// first could not be.
func (c *Conn) WriteBatch(ms []Message) (int, error) {
	c.prepare(ms, false)
	if err := c.rc.Write(c.writeFn); err != nil {
		return 0, err
	}
	if c.errno != 0 {
		return 0, os.NewSyscallError("sendmmsg", c.errno)
	}
	return c.done, nil
}

// prepare points the headers at ms's buffers and, for reading, at room
// for each peer's address, or, for writing, at each peer's address.
func (c *Conn) prepare(ms []Message, reading bool) {
	c.count, c.done, c.errno = min(len(ms), BatchSize), 0, 0
	for i := range c.count {
		b := ms[i].Buf
		iov := &c.iovs[i]
		iov.Base = nil
		if len(b) > 0 {
			iov.Base = &b[0]
		}
		iov.SetLen(len(b))
		h := &c.hdrs[i].hdr
		*h = unix.Msghdr{Iov: iov}
		h.SetIovlen(1)
		switch {
		case reading:
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(&c.names[i])), unix.SizeofSockaddrInet6
			if c.pktinfo {
				h.Control = &c.controls[i][0]
				h.SetControllen(controlSize)
			}
		case ms[i].Addr.IsValid():
			h.Name, h.Namelen = c.sockaddr(i, ms[i].Addr)
			if c.pktinfo && ms[i].Local.IsValid() {
				h.Control = &c.controls[i][0]
				h.SetControllen(c.source(i, ms[i].Local))
			}
		}
	}
}

// local reads the address datagram i came to from its control messages
// (n bytes of them); the zero Addr when they do not say.
func (c *Conn) local(i, n int) netip.Addr {
	b := c.controls[i][:min(n, controlSize)]
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		if int(h.Len) < unix.SizeofCmsghdr || int(h.Len) > len(b) {
			return netip.Addr{}
		}
		data := b[unix.CmsgLen(0):h.Len]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			return netip.AddrFrom4((*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0])).Addr)
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			a := netip.AddrFrom16(pi.Addr)
			if a.IsLinkLocalUnicast() {
				a = a.WithZone(strconv.FormatUint(uint64(pi.Ifindex), 10))
			}
			return a
		}
		b = b[min(unix.CmsgSpace(len(data)), len(b)):]
	}
	return netip.Addr{}
}

// source writes into slot i's control room the message that makes the
// datagram leave from address from, and returns its length.
func (c *Conn) source(i int, from netip.Addr) int { return putSource(c.controls[i][:], c.v4, from) }

// writeFrom sends b to to from the local address from, on a socket bound
// to a wildcard address: one datagram, outside a batch.
func writeFrom(conn *net.UDPConn, b []byte, to netip.AddrPort, from netip.Addr) (int, error) {
	a, _ := conn.LocalAddr().(*net.UDPAddr)
	var oob [controlSize]byte
	n := putSource(oob[:], a != nil && a.IP.To4() != nil, from)
	written, _, err := conn.WriteMsgUDPAddrPort(b, oob[:n], to)
	return written, err
}

// putSource writes into b the control message that makes a datagram
// leave from address from (IP_PKTINFO on an IPv4 socket, IPV6_PKTINFO
// on an IPv6 one), and returns its length.
func putSource(b []byte, v4 bool, from netip.Addr) int {
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	data := unsafe.Pointer(&b[unix.CmsgLen(0)])
	if v4 {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		(*unix.Inet4Pktinfo)(data).Spec_dst = from.Unmap().As4()
		return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	}
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	pi := (*unix.Inet6Pktinfo)(data)
	pi.Addr, pi.Ifindex = from.As16(), scopeID(from.Zone())
	return unix.CmsgSpace(unix.SizeofInet6Pktinfo)
}

func (c *Conn) recv(fd uintptr) bool { return c.call(unix.SYS_RECVMMSG, fd) }

func (c *Conn) send(fd uintptr) bool { return c.call(unix.SYS_SENDMMSG, fd) }

// call makes system call trap (recvmmsg or sendmmsg) on fd with the
// prepared headers and records its outcome. It reports whether that is
// final: false when the call would have blocked, to wait for the socket.
func (c *Conn) call(trap, fd uintptr) bool {
	for {
		n, _, errno := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(c.count), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			c.done = int(n)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			c.errno = errno
		}
		return true
	}
}

// peer is the address datagram i was read from.
func (c *Conn) peer(i int) netip.AddrPort {
	sa := &c.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(sa4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, port(sa.Port))
	}
	return netip.AddrPort{}
}

// sockaddr writes to into slot i's address, as the socket's family wants
// it, and returns where it is and its length.
func (c *Conn) sockaddr(i int, to netip.AddrPort) (*byte, uint32) {
	sa := &c.names[i]
	if c.v4 {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: to.Addr().Unmap().As4()}
		setPort(&sa4.Port, to.Port())
		return (*byte)(unsafe.Pointer(sa4)), unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: to.Addr().As16(), Scope_id: scopeID(to.Addr().Zone())}
	setPort(&sa.Port, to.Port())
	return (*byte)(unsafe.Pointer(sa)), unix.SizeofSockaddrInet6
}

// port reads a sockaddr's port, which is in network byte order.
func port(raw uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&raw))
	return uint16(b[0])<<8 | uint16(b[1])
}

// setPort writes a sockaddr's port in network byte order.
func setPort(dst *uint16, p uint16) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(p>>8), byte(p)
}

// scopeID is the interface index an IPv6 zone names: a number, as peer
// writes it, or an interface's name.
func scopeID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
