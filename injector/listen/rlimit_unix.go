//go:build unix

package listen

import "syscall"

// OpenFileLimit is the process's limit on open files (RLIMIT_NOFILE's
// soft limit), or 0 when it cannot be read.
func OpenFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
