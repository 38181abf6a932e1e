// Package match finds the first rule, in file order, that a query meets.
//
// Exact and wildcard names are found with map lookups keyed on the query
// name and each of its ancestors, so the cost grows with the number of
// labels in the name, not with the number of rules; only rules with regular
// expressions are scanned, and only those that come before the best rule
// found so far.
package match

import (
	"net/netip"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Query is what rules match on.
type Query struct {
	Name      string // lower case, fully qualified
	Type      uint16
	Client    netip.Addr
	Transport scenarios.Transport
	// NameOnly asks which rule could take some query for Name: the
	// conditions besides the name are taken to hold (the dashboard's
	// question about a name).
	NameOnly bool
}

// Matcher indexes the rules of one phase. It is immutable once built.
type Matcher struct {
	exact     map[string][]int32 // rule indices by name, ascending
	wildcard  map[string][]int32 // rule indices by the suffix below which names match
	everyName []int32            // rules with no name condition
	regexps   []int32            // rules with at least one regexp, ascending
	rules     []scenarios.Match
}

// New indexes rules.
func New(rules []scenarios.Rule) *Matcher {
	m := &Matcher{exact: map[string][]int32{}, wildcard: map[string][]int32{}, rules: make([]scenarios.Match, len(rules))}
	for i, r := range rules {
		idx := int32(i)
		m.rules[i] = r.Match
		if len(r.Match.Names) == 0 {
			m.everyName = append(m.everyName, idx)
			continue
		}
		hasRegexp := false
		for _, p := range r.Match.Names {
			switch p.Kind {
			case scenarios.Exact:
				m.exact[p.Name] = appendOnce(m.exact[p.Name], idx)
			case scenarios.Wildcard:
				m.wildcard[p.Name] = appendOnce(m.wildcard[p.Name], idx)
			case scenarios.Regexp:
				hasRegexp = true
			}
		}
		if hasRegexp {
			m.regexps = append(m.regexps, idx)
		}
	}
	return m
}

// appendOnce appends idx unless it is already last (a rule naming the same
// name twice).
func appendOnce(list []int32, idx int32) []int32 {
	if n := len(list); n > 0 && list[n-1] == idx {
		return list
	}
	return append(list, idx)
}

// First returns the index of the first rule, in file order, whose
// conditions q meets and that take accepts, or -1. take is asked about
// rules in order and at most once each; it is where a rule's probability
// decides whether it takes the query or lets it fall through.
func (m *Matcher) First(q *Query, take func(rule int) bool) int {
	var buf [16][]int32
	lists := buf[:0]
	add := func(l []int32) {
		if len(l) > 0 {
			lists = append(lists, l)
		}
	}
	add(m.exact[q.Name])
	for off, end := dns.NextLabel(q.Name, 0); ; off, end = dns.NextLabel(q.Name, off) {
		if end {
			add(m.wildcard["."])
			break
		}
		add(m.wildcard[q.Name[off:]])
	}
	add(m.everyName)
	regexpList := -1
	if len(m.regexps) > 0 {
		regexpList = len(lists)
		lists = append(lists, m.regexps)
	}

	last := int32(-1)
	for {
		best := -1
		for i, l := range lists {
			if len(l) > 0 && (best < 0 || l[0] < lists[best][0]) {
				best = i
			}
		}
		if best < 0 {
			return -1
		}
		idx := lists[best][0]
		lists[best] = lists[best][1:]
		if idx == last {
			continue // the rule came from two lists; it was already asked
		}
		if best == regexpList && !matchesRegexp(m.rules[idx].Names, q.Name) {
			continue
		}
		last = idx
		if m.conditionsHold(int(idx), q) && take(int(idx)) {
			return int(idx)
		}
	}
}

func matchesRegexp(names []scenarios.NamePattern, name string) bool {
	bare := name
	if len(bare) > 1 {
		bare = bare[:len(bare)-1]
	}
	for _, p := range names {
		if p.Kind == scenarios.Regexp && p.Regexp.MatchString(bare) {
			return true
		}
	}
	return false
}

// conditionsHold checks the conditions other than the name.
func (m *Matcher) conditionsHold(i int, q *Query) bool {
	r := &m.rules[i]
	if q.NameOnly {
		return true
	}
	if !r.Transport.Has(q.Transport) {
		return false
	}
	if len(r.Types) > 0 && !containsType(r.Types, q.Type) {
		return false
	}
	if len(r.Clients) > 0 && !InPrefixes(r.Clients, q.Client) {
		return false
	}
	return true
}

func containsType(types []uint16, t uint16) bool {
	for _, v := range types {
		if v == t {
			return true
		}
	}
	return false
}

// InPrefixes tells whether a, IPv4-mapped or not, is in one of prefixes.
func InPrefixes(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
