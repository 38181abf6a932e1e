package injector_test

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
)

// TestInjectionCountersProveAFaultFired: for each rule, the questions
// seen while it was in force, those that matched its conditions, and
// those it injected, by type (issue 28): a fault that never fired says
// whether no query came, none matched, or its probability said no.
func TestInjectionCountersProveAFaultFired(t *testing.T) {
	srv := start(t, `version: 1
upstream: none
zones: [{origin: t.test., records: ["a.t.test. 60 IN A 192.0.2.1", "b.t.test. 60 IN A 192.0.2.2", "ok.t.test. 60 IN A 192.0.2.3"]}]
rules:
  - {name: gone, match: {names: [a.t.test]}, action: nxdomain}
  - {name: only-aaaa, match: {names: [b.t.test], types: [AAAA]}, action: servfail}
  - {name: never, match: {names: [c.t.test]}, action: servfail, probability: 0}
`, injector.Config{})
	for i, c := range []struct {
		name  string
		qtype uint16
	}{
		{"a.t.test.", dns.TypeA}, {"a.t.test.", dns.TypeA}, {"a.t.test.", dns.TypeAAAA},
		{"b.t.test.", dns.TypeA}, {"b.t.test.", dns.TypeA}, {"b.t.test.", dns.TypeA},
		{"c.t.test.", dns.TypeA}, {"ok.t.test.", dns.TypeA},
	} {
		network := []string{"udp", "tcp"}[i%2]
		ask(t, srv, network, c.name, c.qtype)
	}
	st := srv.Status()
	require.Len(t, st.Phases, 1)
	rules := map[string]struct{ seen, matched, injected uint64 }{}
	for _, r := range st.Phases[0].Rules {
		rules[r.Name] = struct{ seen, matched, injected uint64 }{r.Seen, r.Matched, r.Hits}
	}
	assert.Equal(t, struct{ seen, matched, injected uint64 }{8, 3, 3}, rules["gone"], "seen every question, matched and injected its three")
	assert.Equal(t, struct{ seen, matched, injected uint64 }{8, 0, 0}, rules["only-aaaa"], "b.t.test came, for A only: no match")
	assert.Equal(t, struct{ seen, matched, injected uint64 }{8, 1, 0}, rules["never"], "matched, but its probability said no")
	assert.Equal(t, map[string]uint64{"A": 2, "AAAA": 1}, st.Phases[0].Rules[0].InjectedByType)
}
