package scenarios_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/dnsfault/dnsfault/scenarios"
)

// TestEveryExampleYAMLIsValid loads every YAML file under examples/:
// scenarios (files with a top-level version) are validated in full, and
// the rest (workflows, manifests) must at least parse, so no example rots.
func TestEveryExampleYAMLIsValid(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join("..", "examples"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	scenariosFound := 0
	for _, file := range files {
		t.Run(strings.TrimPrefix(file, "../"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			if bytes.HasPrefix(data, []byte("version:")) || bytes.Contains(data, []byte("\nversion:")) {
				scenariosFound++
				_, err := scenarios.Load(file, scenarios.Options{})
				assert.NoError(t, err)
				return
			}
			dec := yaml.NewDecoder(bytes.NewReader(data))
			for {
				var doc struct {
					Kind string            `yaml:"kind"`
					Data map[string]string `yaml:"data"`
				}
				if err := dec.Decode(&doc); err != nil {
					assert.ErrorContains(t, err, "EOF")
					return
				}
				// A Kubernetes ConfigMap may carry a scenario: validate it too.
				for key, value := range doc.Data {
					if doc.Kind == "ConfigMap" && strings.HasPrefix(value, "version:") {
						scenariosFound++
						_, err := scenarios.Parse(file+":"+key, []byte(value), scenarios.Options{})
						assert.NoError(t, err)
					}
				}
			}
		})
	}
	assert.GreaterOrEqual(t, scenariosFound, 6)
}
