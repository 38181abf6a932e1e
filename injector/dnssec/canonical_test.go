package dnssec_test

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dnsfault/dnsfault/injector/dnssec"
)

func TestCanonicalOrderIsRFC4034s(t *testing.T) {
	// The example of RFC 4034 section 6.1, in its order.
	want := []string{
		"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", `\001.z.example.`, "*.z.example.", `\200.z.example.`,
	}
	got := append([]string(nil), want...)
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] }) // scrambled by byte order
	sort.Slice(got, func(i, j int) bool { return dnssec.Less(got[i], got[j]) })
	assert.Equal(t, want, got)
}

func TestBeforeAndAfterBracketTheName(t *testing.T) {
	for _, name := range []string{"b.example.", "www.sig.test.", "*.sig.test.", "a.example.", "Z.example.", "[.example.", `\000.example.`, "x.y.z.example."} {
		before, after := dnssec.Before(name), dnssec.After(name)
		assert.True(t, dnssec.Less(before, name), "%s < %s", before, name)
		assert.True(t, dnssec.Less(name, after), "%s < %s", name, after)
		below := "deep.below." + name
		assert.True(t, dnssec.Less(below, after), "After(%s) comes after the names below it", name)
		assert.True(t, dnssec.Less(before, below))
		// Nothing between the parent and name's siblings is skipped: the
		// next sibling up comes after After.
		assert.True(t, dnssec.Less(after, "zzzzz"+name), "%s", after)
	}
}
