package match_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/scenarios"
)

// rulesFrom parses the rules of a scenario text.
func rulesFrom(t testing.TB, rules string) []scenarios.Rule {
	t.Helper()
	sc, err := scenarios.Parse("rules.yaml", []byte("version: 1\nrules:\n"+rules), scenarios.Options{})
	require.NoError(t, err)
	return sc.Phases[0].Rules
}

func always(int) bool { return true }

func TestFirstMatchingRuleInFileOrderWins(t *testing.T) {
	rules := rulesFrom(t, `
  - {name: regexp-first, match: {names: ["~^api[0-9]+\\.example\\.com$"]}, action: servfail}
  - {name: exact, match: {names: [api1.example.com, www.example.com]}, action: nxdomain}
  - {name: wildcard, match: {names: ["*.example.com"]}, action: refused}
  - {name: deep-wildcard, match: {names: ["*.eu.example.com"]}, action: drop}
  - {name: everything, action: pass}
`)
	m := match.New(rules)
	cases := []struct{ name, want string }{
		{"api1.example.com.", "regexp-first"}, // regexp rule 0 comes before exact rule 1
		{"API7.Example.COM.", "regexp-first"}, // names match case-insensitively (callers pass lower case; regexps are (?i))
		{"www.example.com.", "exact"},
		{"a.example.com.", "wildcard"},
		{"a.b.c.example.com.", "wildcard"}, // one or more labels below
		{"x.eu.example.com.", "wildcard"},  // the earlier wildcard rule wins over the deeper one
		{"example.com.", "everything"},     // a wildcard does not match its own apex
		{"other.org.", "everything"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			i := m.First(&match.Query{Name: strings.ToLower(tc.name), Transport: scenarios.UDP}, always)
			require.GreaterOrEqual(t, i, 0)
			assert.Equal(t, tc.want, rules[i].Name)
		})
	}
}

func TestConditionsMustAllHold(t *testing.T) {
	rules := rulesFrom(t, `
  - {name: aaaa-only, match: {names: [a.test], types: [AAAA]}, action: servfail}
  - {name: tcp-only, match: {names: [a.test], transport: tcp}, action: servfail}
  - {name: lab-clients, match: {names: [a.test], clients: [10.1.0.0/16, "::1"]}, action: servfail}
`)
	m := match.New(rules)
	lab := netip.MustParseAddr("10.1.2.3")
	other := netip.MustParseAddr("10.2.0.1")
	cases := []struct {
		desc string
		q    match.Query
		want int
	}{
		{"AAAA over udp", match.Query{Name: "a.test.", Type: 28, Client: other, Transport: scenarios.UDP}, 0},
		{"A over tcp", match.Query{Name: "a.test.", Type: 1, Client: other, Transport: scenarios.TCP}, 1},
		{"A over udp from the lab", match.Query{Name: "a.test.", Type: 1, Client: lab, Transport: scenarios.UDP}, 2},
		{"A over udp from ::1", match.Query{Name: "a.test.", Type: 1, Client: netip.IPv6Loopback(), Transport: scenarios.UDP}, 2},
		{"A over udp from elsewhere", match.Query{Name: "a.test.", Type: 1, Client: other, Transport: scenarios.UDP}, -1},
		{"another name", match.Query{Name: "b.test.", Type: 28, Client: lab, Transport: scenarios.TCP}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			assert.Equal(t, tc.want, m.First(&tc.q, always))
		})
	}
}

func TestTakeIsAskedInOrderOnceEach(t *testing.T) {
	rules := rulesFrom(t, `
  - {name: r0, match: {names: [a.test, "*.test", "~^a"]}, action: servfail}
  - {name: r1, match: {names: ["~test$"]}, action: servfail}
  - {name: r2, action: servfail}
`)
	m := match.New(rules)
	var asked []int
	got := m.First(&match.Query{Name: "a.test."}, func(i int) bool { asked = append(asked, i); return i == 2 })
	assert.Equal(t, 2, got)
	assert.Equal(t, []int{0, 1, 2}, asked, "a rule listed under several names is still asked once")
}

func TestRootWildcardMatchesEveryName(t *testing.T) {
	m := match.New(rulesFrom(t, `  - {match: {names: ["*."]}, action: servfail}`))
	assert.Equal(t, 0, m.First(&match.Query{Name: "anything.example."}, always))
}

// manyRules returns n rules of one kind, none of which matches the
// benchmark's queries except the last.
func manyRules(kind string, n int) []scenarios.Rule {
	rules := make([]scenarios.Rule, n)
	for i := range rules {
		var p scenarios.NamePattern
		switch kind {
		case "exact":
			p = scenarios.NamePattern{Kind: scenarios.Exact, Name: fmt.Sprintf("host%d.svc%d.example.com.", i, i%97)}
		case "wildcard":
			p = scenarios.NamePattern{Kind: scenarios.Wildcard, Name: fmt.Sprintf("svc%d.region%d.example.com.", i, i%13)}
		}
		rules[i] = scenarios.Rule{Name: fmt.Sprint(i), Action: scenarios.ServFail, Match: scenarios.Match{Names: []scenarios.NamePattern{p}}}
	}
	return rules
}

// BenchmarkMatch shows that finding the rule costs the same with 10 or
// 100,000 exact or wildcard rules: compare ns/op across sizes.
func BenchmarkMatch(b *testing.B) {
	for _, kind := range []string{"exact", "wildcard"} {
		for _, n := range []int{10, 1000, 100000} {
			m := match.New(manyRules(kind, n))
			last := n - 1
			hit := &match.Query{Name: fmt.Sprintf("host%d.svc%d.example.com.", last, last%97), Type: 1, Transport: scenarios.UDP}
			if kind == "wildcard" {
				hit.Name = fmt.Sprintf("a.b.svc%d.region%d.example.com.", last, last%13)
			}
			miss := &match.Query{Name: "nothing.here.example.org.", Type: 1, Transport: scenarios.UDP}
			b.Run(fmt.Sprintf("%s/rules=%d/hit", kind, n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if m.First(hit, always) != last {
						b.Fatal("the last rule should match")
					}
				}
			})
			b.Run(fmt.Sprintf("%s/rules=%d/miss", kind, n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if m.First(miss, always) != -1 {
						b.Fatal("no rule should match")
					}
				}
			})
		}
	}
}

// TestAStarStandsForOneLabel: dynamodb.*.amazonaws.com, as the README's
// ctl add writes it, takes any one label there (issue 28); a leading *.
// still takes any names below.
func TestAStarStandsForOneLabel(t *testing.T) {
	rules := rulesFrom(t, `
  - {name: any-region, match: {names: ["dynamodb.*.amazonaws.com"]}, action: empty}
  - {name: below, match: {names: ["*.s3.*.amazonaws.com"]}, action: servfail}
  - {name: everything, action: pass}
`)
	m := match.New(rules)
	for name, want := range map[string]string{
		"dynamodb.us-east-1.amazonaws.com.":   "any-region",
		"dynamodb.eu-west-1.amazonaws.com.":   "any-region",
		"dynamodb.amazonaws.com.":             "everything", // one label, not none
		"dynamodb.a.b.amazonaws.com.":         "everything", // nor two
		"x.dynamodb.us-east-1.amazonaws.com.": "everything",
		"b.s3.eu-west-1.amazonaws.com.":       "below",
		"a.b.s3.eu-west-1.amazonaws.com.":     "below",
	} {
		i := m.First(&match.Query{Name: name, Transport: scenarios.UDP}, always)
		require.GreaterOrEqual(t, i, 0)
		assert.Equal(t, want, rules[i].Name, name)
	}
	assert.Contains(t, rules[0].Summary(), "dynamodb.*.amazonaws.com", "shown as written")
}
