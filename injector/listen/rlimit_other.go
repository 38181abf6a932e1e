//go:build !unix

package listen

// OpenFileLimit is 0 where the limit on open files cannot be read.
func OpenFileLimit() int { return 0 }
