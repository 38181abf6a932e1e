package scenarios_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/scenarios"
)

// aliasBomb is issue 30's file: a 300 KB scalar, named once and used
// 150,000 times through an alias (900 KB of file, 45 GB expanded).
func aliasBomb() []byte {
	var b strings.Builder
	b.WriteString("version: 1\nparams:\n  big: &b \"" + strings.Repeat("x", 300_000) + "\"\nrules:\n  - {name: r, match: {names: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*b, ", 150_000), ", "))
	b.WriteString("]}, action: servfail}\n")
	return []byte(b.String())
}

// TestAliasesAreBoundedInCountAndBytes: the alias bomb is refused before
// anything expands it, with a short error, in little memory; the same for
// an ad-hoc rule. A few aliases are still fine.
func TestAliasesAreBoundedInCountAndBytes(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := scenarios.Parse("bomb.yaml", aliasBomb(), scenarios.Options{})
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bomb.yaml: YAML aliases (*name) expand this file past")
	assert.Less(t, len(err.Error()), 300, "a short error, not the token")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(200<<20), "bytes allocated to refuse it")

	_, err = scenarios.ParseAdHocRule("rule", []byte("{name: &n \""+strings.Repeat("y", 1<<20)+"\", match: {names: ["+strings.Repeat("*n, ", 9)+"*n]}, action: drop}"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "YAML aliases")

	ok := "version: 1\nrules:\n  - {name: a, match: {names: [&n a.test]}, action: drop}\n  - {name: b, match: {names: [*n]}, action: servfail}\n"
	_, err = scenarios.Parse("ok.yaml", []byte(ok), scenarios.Options{})
	assert.NoError(t, err)
}

// TestErrorsQuoteAShortExcerpt: a long bad value is quoted in part, with
// its length, never whole.
func TestErrorsQuoteAShortExcerpt(t *testing.T) {
	long := strings.Repeat("z", 5000)
	_, err := scenarios.Parse("s.yaml", []byte("version: 1\nrules:\n  - {name: r, action: servfail, delay: "+long+"}\n  - {name: q, action: [x, y]}\n  - {name: "+long+", match: "+long+", action: drop}\n"), scenarios.Options{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), strings.Repeat("z", 100))
	assert.Contains(t, err.Error(), "(5000 bytes)")
}
