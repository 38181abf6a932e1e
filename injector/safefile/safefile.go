// Package safefile writes files whole or not at all: to a temporary file
// beside the target, synced, then renamed over it. A failed write (a full
// disk, a crash in the middle) leaves the previous file as it was, and a
// reader never sees half a file. An existing file keeps its mode, and a
// path that is not a regular file (a device, a link, a pipe) is refused
// rather than replaced.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes path with write, whole or not at all.
func Write(path string, write func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	mode, err := existingMode(path)
	if err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), mode); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// existingMode is the permissions of the regular file at path, 0644 when
// there is none, or an error when path is something else.
func existingMode(path string) (os.FileMode, error) {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0o644, nil
	case err != nil:
		return 0, err
	case st.IsDir():
		return 0, fmt.Errorf("%s is a folder", path)
	case st.Mode()&os.ModeSymlink != 0:
		return 0, fmt.Errorf("%s is a symbolic link: give the path of the file itself", path)
	case !st.Mode().IsRegular():
		return 0, fmt.Errorf("%s is not a regular file (%s): dnsfault writes only regular files, and would not replace it", path, kind(st.Mode()))
	}
	return st.Mode().Perm(), nil
}

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

// CheckWritable tells, before any work is done, whether Write could write
// path: its folder exists and takes new files, and path is a regular file
// or nothing yet.
func CheckWritable(path string) error {
	if _, err := existingMode(path); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".check-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// AppendLines opens path to append lines to (a log), each written whole
// or not at all: a write that fails part-way (a full disk) is cut back,
// so the file never holds a torn line for the next to fuse with. Like
// Write, it refuses a path that is not a regular file, and an existing
// file keeps its mode.
func AppendLines(path string) (io.WriteCloser, error) {
	mode, err := existingMode(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, mode)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &lineFile{f: f, end: st.Size()}, nil
}

// lineFile is AppendLines' file; one writer at a time (the query log
// holds a lock).
type lineFile struct {
	f   *os.File
	end int64 // where the last whole line ends
}

// Write writes b, one or more whole lines, or nothing.
func (l *lineFile) Write(b []byte) (int, error) {
	n, err := l.f.Write(b)
	if err != nil {
		if n > 0 {
			l.f.Truncate(l.end)
		}
		return 0, err
	}
	l.end += int64(n)
	return n, nil
}

func (l *lineFile) Close() error { return l.f.Close() }
