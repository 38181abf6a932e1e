// Package reload watches a scenario file and calls back when it changes on
// disk, including when an editor replaces it by renaming a new file over it.
package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Settle is how long the file must stay unchanged before changed is
// called: an editor's save is often several writes.
const Settle = 100 * time.Millisecond

// Watch calls changed each time the file at path changes, until ctx ends.
// It watches the file's folder, since editors replace files rather than
// write them in place. It returns once the watch is in place.
func Watch(ctx context.Context, path string, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		w.Close()
		return fmt.Errorf("watching %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return fmt.Errorf("watching %s: %w", path, err)
	}
	go func() {
		defer w.Close()
		settle := time.NewTimer(time.Hour)
		settle.Stop()
		defer settle.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					settle.Reset(Settle)
				}
			case <-w.Errors:
				// A lost event is caught by the next one; nothing to do.
			case <-settle.C:
				changed()
			}
		}
	}()
	return nil
}
