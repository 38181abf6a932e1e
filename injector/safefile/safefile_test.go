package safefile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
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
