//go:build !linux

package listen

import (
	"errors"
	"syscall"
)

// reusePort refuses: outside Linux, SO_REUSEPORT does not spread
// datagrams across the sockets sharing a port.
func reusePort(_, _ string, _ syscall.RawConn) error {
	return errors.New("several UDP sockets on one port need Linux")
}
