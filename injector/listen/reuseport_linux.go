package listen

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort lets the sockets of one process share a port: the kernel
// spreads datagrams across them by the client's address and port. Only
// sockets of the same user can join.
func reusePort(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); cerr != nil {
		return cerr
	}
	return err
}
