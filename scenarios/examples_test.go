package scenarios_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/scenarios"
)

// TestEveryExampleScenarioIsValid loads every scenario under examples/, so
// an example cannot drift from the format.
func TestEveryExampleScenarioIsValid(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join("..", "examples", "scenarios"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := scenarios.Load(file, scenarios.Options{})
			assert.NoError(t, err)
		})
	}
}
