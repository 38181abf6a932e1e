package injector_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The differential test for faults: each fault that removes or replaces
// data is a zone as the fault leaves it. Knot serves that zone; dnsfault
// serves the original with the rule. Their answers about the names the
// rule touches, directly and through CNAME chains, must be the same.

// faultCase is one rule and the zone it makes of the fidelity zone.
type faultCase struct {
	rule string
	// drop removes the records "owner TYPE" (TYPE "" for every type);
	// add appends lines to the zone file.
	drop []string
	add  []string
	// names are asked with each of types.
	names []string
	types []uint16
}

func faultCases() []faultCase {
	return []faultCase{
		{rule: "{match: {names: [mail.fid.test]}, action: nxdomain}", drop: []string{"mail"},
			names: []string{"mail.fid.test."}, types: []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX, dns.TypeANY}},
		{rule: "{match: {names: [lb.fid.test]}, action: nxdomain}", drop: []string{"lb"},
			names: []string{"lb.fid.test.", "api.fid.test.", "www.fid.test.", "chain-out.fid.test.", "y.wild.fid.test."}, types: []uint16{dns.TypeA, dns.TypeAAAA}},
		{rule: "{match: {names: [lb.fid.test], types: [A]}, action: empty}", drop: []string{"lb A"},
			names: []string{"lb.fid.test.", "www.fid.test.", "y.wild.fid.test."}, types: []uint16{dns.TypeA, dns.TypeAAAA}},
		{rule: `{match: {names: [lb.fid.test], types: [A]}, action: answer, records: ["@ 300 IN A 203.0.113.5"]}`, drop: []string{"lb A"}, add: []string{"lb 300 IN A 203.0.113.5"},
			names: []string{"lb.fid.test.", "api.fid.test.", "www.fid.test."}, types: []uint16{dns.TypeA, dns.TypeAAAA}},
		{rule: "{match: {names: [big.fid.test], types: [TXT]}, action: pass, keep: 1}", drop: []string{"big TXT"}, add: []string{`big 300 IN TXT "chunk-00-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"`},
			names: []string{"big.fid.test."}, types: []uint16{dns.TypeTXT}},
	}
}

// zoneAsLeft is the fidelity zone file with c's records dropped and added.
func zoneAsLeft(t *testing.T, c faultCase) string {
	t.Helper()
	data, err := os.ReadFile(fidelityZone)
	require.NoError(t, err)
	var kept []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		drop := false
		for _, d := range c.drop {
			owner, typ, _ := strings.Cut(d, " ")
			if len(fields) >= 3 && strings.EqualFold(fields[0], owner) && (typ == "" || zoneLineType(fields) == typ) {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, line)
		}
	}
	file := filepath.Join(t.TempDir(), "fid.test.zone")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(append(kept, c.add...), "\n")+"\n"), 0o644))
	return file
}

// zoneLineType is the type of a zone file line "owner [ttl] IN TYPE ...".
func zoneLineType(fields []string) string {
	for i, f := range fields {
		if f == "IN" && i+1 < len(fields) {
			return fields[i+1]
		}
	}
	return ""
}

func TestFaultAnswersMatchKnot(t *testing.T) {
	z, err := scenarios.ReadZoneFile(fidelityZone)
	require.NoError(t, err)
	allowed := map[string]int{}
	var diffs []string
	probes := 0
	for _, c := range faultCases() {
		knotAddr := knot(t, "fid.test.", zoneAsLeft(t, c))
		srv := start(t, "version: 1\nname: fidelity-faults\nupstream: none\nrules:\n  - "+c.rule+"\n", injector.Config{Zones: []scenarios.Zone{z}})
		for _, name := range c.names {
			for _, qt := range c.types {
				for _, tcp := range []bool{false, true} {
					p := probe{name: name, qtype: qt, class: dns.ClassINET, edns: true, size: 1232, rd: true, tcp: tcp}
					probes++
					want, got := viewOf(askProbe(t, knotAddr, p), allowed), viewOf(askProbe(t, srv.Addr(), p), allowed)
					if fmt.Sprint(want.sections) == fmt.Sprint(got.sections) && fmt.Sprint(want.raw) != fmt.Sprint(got.raw) {
						allowed["name case"]++
					}
					if d := difference(p, want, got); d != "" {
						diffs = append(diffs, c.rule+": "+d)
					}
				}
			}
		}
	}
	report(t, "fault ", probes, diffs, allowed)
}
