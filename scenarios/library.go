package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

//go:embed library/*.yaml
var library embed.FS

// Bundled lists the names of the bundled scenarios, sorted.
func Bundled() []string {
	entries, _ := fs.ReadDir(library, "library")
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// BundledSource returns the YAML of a bundled scenario.
func BundledSource(name string) ([]byte, error) {
	data, err := library.ReadFile(path.Join("library", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no bundled scenario %q%s; see `dnsfault scenarios list`", name, didYouMean(name, Bundled()))
	}
	return data, nil
}

// looksLikePath tells a file from a bundled name: an existing file, or
// anything with a folder separator or a YAML extension, is a path.
func looksLikePath(s string) bool {
	if _, err := os.Stat(s); !errors.Is(err, fs.ErrNotExist) {
		return true
	}
	return strings.ContainsAny(s, `/\`) || strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml")
}

// Open loads a scenario given as a path, or as the name of a bundled
// scenario when no such file exists.
func Open(nameOrPath string, opts Options) (*Scenario, error) {
	if looksLikePath(nameOrPath) {
		return Load(nameOrPath, opts)
	}
	data, err := BundledSource(nameOrPath)
	if err != nil {
		return nil, err
	}
	if opts.ReadFile == nil {
		opts.ReadFile = readBundled
	}
	return Parse("bundled:"+nameOrPath+".yaml", data, opts)
}

// readBundled reads a file of the bundled library (a zone file a bundled
// scenario names).
func readBundled(name string) ([]byte, error) { return library.ReadFile(path.Join("library", name)) }
