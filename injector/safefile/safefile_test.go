package safefile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/safefile"
)

func TestAFailedWriteLeavesThePreviousFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, safefile.Write(path, func(w io.Writer) error { _, err := io.WriteString(w, "good"); return err }))
	err := safefile.Write(path, func(w io.Writer) error {
		io.WriteString(w, "half")
		return errors.New("disk full")
	})
	require.ErrorContains(t, err, "disk full")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "good", string(data))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	assert.NoError(t, safefile.CheckWritable(filepath.Join(dir, "r.json")))
	assert.ErrorContains(t, safefile.CheckWritable(filepath.Join(dir, "missing", "r.json")), "cannot write")
	assert.ErrorContains(t, safefile.CheckWritable(dir), "is a folder")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "the check leaves nothing behind")
}

// TestOnlyRegularFilesAreWrittenAndTheyKeepTheirMode: a device, a link
// or a pipe at the path is refused at the check and at the write, never
// replaced; an existing file keeps its permissions.
func TestOnlyRegularFilesAreWrittenAndTheyKeepTheirMode(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("x"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	pipe := filepath.Join(dir, "pipe")
	require.NoError(t, syscall.Mkfifo(pipe, 0o600))
	for _, path := range []string{"/dev/full", "/dev/null", link, pipe} {
		assert.Error(t, safefile.CheckWritable(path), path)
		assert.Error(t, safefile.Write(path, func(w io.Writer) error { return nil }), path)
		_, err := safefile.AppendLines(path)
		assert.Error(t, err, path)
	}
	st, err := os.Lstat("/dev/full")
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&os.ModeDevice, "/dev/full is still the device")
	st, err = os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&os.ModeSymlink, "the link is still a link")

	require.NoError(t, safefile.Write(target, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }))
	st, err = os.Stat(target)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the mode it had")
	fresh := filepath.Join(dir, "fresh")
	require.NoError(t, safefile.Write(fresh, func(w io.Writer) error { return nil }))
	st, err = os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
}

// TestAppendLinesNeverLeavesATornLine: a line that hits the file size
// limit part-way (as a full disk does) is cut back; the next line starts
// clean.
func TestAppendLinesNeverLeavesATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.log")
	w, err := safefile.AppendLines(path)
	require.NoError(t, err)
	defer w.Close()
	_, err = io.WriteString(w, "{\"n\":1}\n")
	require.NoError(t, err)

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	limit := syscall.Rlimit{Cur: 12, Max: old.Max}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit))
	_, err = io.WriteString(w, "{\"n\":2,\"pad\":\"xxxxxxxxxx\"}\n")
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
	require.Error(t, err, "the limit stopped the line")

	_, err = io.WriteString(w, "{\"n\":3}\n")
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\"n\":1}\n{\"n\":3}\n", string(data))
}
