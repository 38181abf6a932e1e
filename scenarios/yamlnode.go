package scenarios

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree, collecting every error with its position
// instead of stopping at the first.
type decoder struct {
	file   string
	errs   ErrorList
	params map[string]string
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	for i, a := range args { // a value from the file is quoted in part
		if s, ok := a.(string); ok && len(s) > maxArg {
			args[i] = excerpt(s)
		}
	}
	d.errs = append(d.errs, Error{File: d.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// fields checks that n is a mapping whose keys are all among known and none
// repeats, reporting the rest, and returns the value node of each key given.
func (d *decoder) fields(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping with keys %s, got %s", what, strings.Join(known, ", "), describe(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		switch {
		case !contains(known, key.Value):
			hint := didYouMean(key.Value, known)
			if hint == "" {
				hint = "; expected one of: " + strings.Join(known, ", ")
			}
			d.errorf(key, "unknown key %q in %s%s", key.Value, what, hint)
		case out[key.Value] != nil:
			d.errorf(key, "%s: key %q given twice", what, key.Value)
		default:
			out[key.Value] = val
		}
	}
	return out
}

// scalar returns the text of a scalar node with ${param} references
// substituted, or false after reporting why it is not one.
func (d *decoder) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a single value, got %s", what, describe(n))
		return "", false
	}
	return d.substitute(n, what, n.Value)
}

// boolean reads true or false, reporting anything else.
func (d *decoder) boolean(n *yaml.Node, what string) bool {
	s, ok := d.scalar(n, what)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		d.errorf(n, "%s must be true or false, got %q", what, s)
	}
	return b
}

func (d *decoder) str(n *yaml.Node, what string) string {
	s, _ := d.scalar(n, what)
	return s
}

func (d *decoder) int(n *yaml.Node, what string, lo, hi int64) (int64, bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < lo || v > hi {
		d.errorf(n, "%s must be a whole number from %d to %d, got %q", what, lo, hi, s)
		return 0, false
	}
	return v, true
}

func (d *decoder) float(n *yaml.Node, what string, lo, hi float64) (float64, bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		d.errorf(n, "%s must be a number from %g to %g, got %q", what, lo, hi, s)
		return 0, false
	}
	return v, true
}

// duration reads a Go duration such as "250ms" or "2h30m". Bare numbers are
// refused: "30" could mean seconds or milliseconds.
func (d *decoder) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.errorf(n, "%s must be a duration such as 250ms, 30s or 2h30m, got %q", what, s)
		return 0, false
	}
	return v, true
}

// list returns the items of a sequence; a single scalar counts as a list of
// one, so `types: A` reads like `types: [A]`.
func (d *decoder) list(n *yaml.Node, what string) []*yaml.Node {
	switch {
	case n.Kind == yaml.SequenceNode:
		return n.Content
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		return []*yaml.Node{n}
	default:
		d.errorf(n, "%s must be a list, got %s", what, describe(n))
		return nil
	}
}

// substitute replaces each ${name} in s with the parameter's value; "$${"
// stands for a literal "${".
func (d *decoder) substitute(n *yaml.Node, what, s string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	ok := true
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.errorf(n, "%s: unclosed ${ in %q", what, n.Value)
			return "", false
		}
		name := s[i+2 : i+end]
		val, found := d.params[name]
		if !found {
			d.errorf(n, "%s: unknown parameter ${%s}%s", what, name, didYouMean(name, sortedKeys(d.params)))
			ok = false
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
	return b.String(), ok
}

// describe names the kind of a node for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", excerpt(n.Value))
	default:
		return "something else"
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Aliases let a file repeat a node without repeating its text, so a small
// file can stand for a huge one (a "billion laughs"). These bound what a
// scenario's aliases may add, whatever the file's size.
const (
	maxAliases       = 10_000
	maxAliasExpanded = 4 << 20 // bytes of scalar text the aliases add
)

// checkAliases refuses a document whose aliases stand for more than
// maxAliases nodes or maxAliasExpanded bytes, before anything walks it.
func checkAliases(file string, doc *yaml.Node) *Error {
	sizes := map[*yaml.Node]int64{} // an anchored node's expanded size
	var aliases, added int64
	var size func(n *yaml.Node) int64
	size = func(n *yaml.Node) int64 {
		if s, ok := sizes[n]; ok {
			return s
		}
		sizes[n] = 0 // an alias inside its own anchor adds nothing more
		s := int64(len(n.Value)) + 1
		for _, c := range n.Content {
			if c.Kind == yaml.AliasNode && c.Alias != nil {
				aliases++
				cs := size(c.Alias)
				added += cs
				s += cs
			} else {
				s += size(c)
			}
			if aliases > maxAliases || added > maxAliasExpanded {
				return s
			}
		}
		sizes[n] = s
		return s
	}
	size(doc)
	if aliases > maxAliases || added > maxAliasExpanded {
		return &Error{File: file, Msg: fmt.Sprintf("YAML aliases (*name) expand this file past %d aliases or %d MiB: a scenario may repeat a node with an anchor only so much", maxAliases, maxAliasExpanded>>20)}
	}
	return nil
}

// maxQuoted bounds how much of a value an error message quotes, and
// maxArg the longest text errorf passes whole (its own lists of keys and
// types are shorter).
const (
	maxQuoted = 60
	maxArg    = 400
)

// excerpt is s, cut to maxQuoted characters with the length it had.
func excerpt(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}
