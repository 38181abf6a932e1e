package reload_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/reload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor fails the test unless changed fires within a generous bound.
func waitFor(t *testing.T, changed <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changed:
	case <-time.After(dnstest.Patience(10 * time.Second)):
		t.Fatalf("no change reported after %s", what)
	}
}

func TestWatchSeesWritesAndReplacements(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(file, []byte("version: 1\n"), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 10)
	require.NoError(t, reload.Watch(ctx, file, func() { changed <- struct{}{} }))

	require.NoError(t, os.WriteFile(file, []byte("version: 1\nname: a\n"), 0o644))
	waitFor(t, changed, "a write in place")

	tmp := filepath.Join(dir, "s.yaml.swp")
	require.NoError(t, os.WriteFile(tmp, []byte("version: 1\nname: b\n"), 0o644))
	require.NoError(t, os.Rename(tmp, file))
	waitFor(t, changed, "a rename over the file")
}

func TestWatchOfAMissingFolderFails(t *testing.T) {
	err := reload.Watch(context.Background(), filepath.Join(t.TempDir(), "no", "such", "s.yaml"), func() {})
	require.Error(t, err)
}
