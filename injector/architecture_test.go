package injector_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArchitectureNamesFunctionsThatExist keeps ARCHITECTURE.md true:
// every `path/file.go:Func` or `path/file.go:Type.Method` it names is
// declared in that file.
func TestArchitectureNamesFunctionsThatExist(t *testing.T) {
	doc, err := os.ReadFile("../ARCHITECTURE.md")
	require.NoError(t, err)
	refs := regexp.MustCompile("`([a-z0-9_/]+\\.go):([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)?)`").FindAllStringSubmatch(string(doc), -1)
	require.NotEmpty(t, refs)
	declared := map[string]map[string]bool{} // file -> "Func" and "Type.Method"
	for _, ref := range refs {
		file, name := ref[1], ref[2]
		if declared[file] == nil {
			declared[file] = declarations(t, filepath.Join("..", file))
		}
		assert.True(t, declared[file][name], "ARCHITECTURE.md names %s:%s, which is not declared there", file, name)
	}
	t.Logf("%d references checked", len(refs))
}

func declarations(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if !assert.NoError(t, err, "ARCHITECTURE.md names %s", path) {
		return map[string]bool{}
	}
	out := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		name := fn.Name.Name
		if fn.Recv != nil && len(fn.Recv.List) == 1 {
			typ := fn.Recv.List[0].Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			if id, ok := typ.(*ast.Ident); ok {
				name = id.Name + "." + name
			}
		}
		out[strings.TrimSpace(name)] = true
	}
	return out
}
