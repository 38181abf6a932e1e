package scenarios_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/scenarios"
)

func TestExtendsBundledScenario(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`version: 1
extends: aws-dynamodb-us-east-1-2025
params:
  region: eu-west-1
  app: shop.test
upstream: none
zones:
  - origin: ${app}
    records: ["api 60 IN A 127.0.0.1"]
rules:
  - name: api-slow
    match: {names: ["api.${app}"]}
    action: pass
    delay: 50ms
`), 0o644))
	sc, err := scenarios.Load(file, scenarios.Options{Set: map[string]string{"app": "other.test"}})
	require.NoError(t, err)

	assert.Equal(t, "mine", sc.Name)
	assert.Contains(t, sc.Description, "DynamoDB", "the base's description, as this file gives none")
	assert.Equal(t, []string{"none"}, sc.Upstream)
	assert.Equal(t, map[string]string{"region": "eu-west-1", "app": "other.test"}, sc.Params)
	require.Len(t, sc.Zones, 1)
	assert.Equal(t, "other.test.", sc.Zones[0].Origin)

	var phases []string
	for _, p := range sc.Phases {
		phases = append(phases, p.Name)
		require.NotEmpty(t, p.Rules)
		assert.Equal(t, "api-slow", p.Rules[0].Name, "this file's rules come first in phase %s", p.Name)
	}
	assert.Equal(t, []string{"healthy", "records-gone", "negative-caches-drain", "recovered"}, phases)
	outage := sc.Phases[1]
	require.Len(t, outage.Rules, 2)
	assert.Equal(t, "dynamodb.eu-west-1.amazonaws.com.", outage.Rules[1].Match.Names[0].Name, "the base sees this file's parameter values")
	assert.Equal(t, "healthy", sc.Expect.Baseline)
}

func TestExtendsErrorsArePositionedInTheirOwnFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base.yaml"), []byte(`version: 1
phases:
  - name: healthy
    duration: 1m
  - name: broken
    rules:
      - action: nxdomian
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "drill.yaml"), []byte(`version: 1
extends: base.yaml
rules:
  - match: {names: [a.test]}
    action: servfial
`), 0o644))
	_, err := scenarios.Load(filepath.Join(dir, "drill.yaml"), scenarios.Options{})
	require.Error(t, err)
	msgs := scenarios.Messages(err)
	require.Len(t, msgs, 2, "%q", msgs)
	assert.Regexp(t, `drill\.yaml:2:10: extends "base\.yaml": the base scenario has 1 error`, msgs[0])
	assert.Regexp(t, `base\.yaml:7:17: .*"nxdomian".*did you mean "nxdomain"`, msgs[1])

	require.NoError(t, os.WriteFile(filepath.Join(dir, "base.yaml"), []byte("version: 1\nphases:\n  - name: only\n"), 0o644))
	_, err = scenarios.Load(filepath.Join(dir, "drill.yaml"), scenarios.Options{})
	require.Error(t, err)
	msgs = scenarios.Messages(err)
	require.Len(t, msgs, 1, "%q", msgs)
	assert.Regexp(t, `drill\.yaml:5:13: .*"servfial".*did you mean "servfail"`, msgs[0])
}

func TestExtendsRefusals(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"phases": {"version: 1\nextends: demo\nphases:\n  - name: x\n",
			`x.yaml:4:3: a scenario that extends another takes its phases`},
		"unknown bundled": {"version: 1\nextends: dmeo\n",
			`x.yaml:2:10: extends: no bundled scenario "dmeo" \(did you mean "demo"\?\)`},
		"file over the API": {"version: 1\nextends: ./base.yaml\n",
			`x.yaml:2:10: extends "./base.yaml": this scenario cannot name files`},
		"rule name clash": {"version: 1\nextends: aws-dynamodb-us-east-1-2025\nrules:\n  - name: ddb-nodata\n    action: servfail\n",
			`x.yaml:4:5: rule name "ddb-nodata" is also a rule of phase "records-gone"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scenarios.Parse("x.yaml", []byte(tc.yaml), scenarios.Options{})
			require.Error(t, err)
			assert.Regexp(t, tc.want, err.Error())
		})
	}
}

func TestExtendsCycleEnds(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("version: 1\nextends: b.yaml\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("version: 1\nextends: a.yaml\n"), 0o644))
	_, err := scenarios.Load(filepath.Join(dir, "a.yaml"), scenarios.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is there a cycle?")
}

func TestReadZoneFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ddb.zone")
	require.NoError(t, os.WriteFile(good, []byte(`$ORIGIN dynamodb.us-east-1.amazonaws.com.
$TTL 60
@ IN SOA ns admin 1 60 60 60 60
@ IN A 127.0.0.1
`), 0o644))
	z, err := scenarios.ReadZoneFile(good)
	require.NoError(t, err)
	assert.Equal(t, "dynamodb.us-east-1.amazonaws.com.", z.Origin)
	assert.Len(t, z.Records, 2)

	noSOA := filepath.Join(dir, "plain.zone")
	require.NoError(t, os.WriteFile(noSOA, []byte("$ORIGIN Shop.Test.\napi 60 IN A 127.0.0.1\n"), 0o644))
	z, err = scenarios.ReadZoneFile(noSOA)
	require.NoError(t, err)
	assert.Equal(t, "shop.test.", z.Origin)

	bad := filepath.Join(dir, "bad.zone")
	require.NoError(t, os.WriteFile(bad, []byte("$ORIGIN shop.test.\napi 60 IN A 999.1.1.1\n"), 0o644))
	_, err = scenarios.ReadZoneFile(bad)
	require.Error(t, err)
	assert.Regexp(t, `bad\.zone:2:\d+: `, err.Error())

	orphan := filepath.Join(dir, "orphan.zone")
	require.NoError(t, os.WriteFile(orphan, []byte("api.shop.test. 60 IN A 127.0.0.1\n"), 0o644))
	_, err = scenarios.ReadZoneFile(orphan)
	assert.ErrorContains(t, err, "no SOA record and no $ORIGIN")
}

func TestMergeZonesReplacesByOrigin(t *testing.T) {
	base := []scenarios.Zone{{Origin: "a.test."}, {Origin: "b.test."}}
	over := []scenarios.Zone{{Origin: "b.test.", Records: nil}, {Origin: "c.test."}}
	var got []string
	for _, z := range scenarios.MergeZones(base, over) {
		got = append(got, z.Origin)
	}
	assert.Equal(t, []string{"a.test.", "b.test.", "c.test."}, got)
}

// TestErrorsPointAtTheMistake: an indentation slip is reported at its own
// line, not where its block began; a misspelt type gets a suggestion.
func TestErrorsPointAtTheMistake(t *testing.T) {
	for text, want := range map[string]string{
		"version: 1\nrules:\n  - name: a\n    action: servfail\n   match: {names: [x.test]}\n":    `x.yaml:5:1: YAML syntax: did not find expected '-' indicator`,
		"version: 1\nrules:\n  - name: a\n    match:\n      names: [x.test]\n     types: [A]\n":   `x.yaml:6:1: YAML syntax: did not find expected key`,
		"version: 1\nzones:\n  - origin: a.test.\n    records:\n      - \"www 60 IN CNAMEE x\"\n": `x.yaml:5:9: record "www 60 IN CNAMEE x": unknown record type "CNAMEE" (did you mean "CNAME"?)`,
	} {
		_, err := scenarios.Parse("x.yaml", []byte(text), scenarios.Options{})
		assert.EqualError(t, err, want)
	}
}

// TestVariantsOfABundledOutage: phase_rules adds to one phase only, and
// replace turns a base rule into another action with the base's name and
// match; the examples' SERVFAIL and drop variants are a few lines each.
func TestVariantsOfABundledOutage(t *testing.T) {
	sc, err := scenarios.Parse("v.yaml", []byte(`version: 1
extends: aws-dynamodb-us-east-1-2025
phase_rules:
  records-gone:
    - {name: s3-slow, match: {names: ["s3.${region}.amazonaws.com"]}, action: pass, delay: 2s}
replace:
  ddb-nodata: {action: servfail, delay: 100ms}
`), scenarios.Options{})
	require.NoError(t, err)
	rules := map[string][]scenarios.Rule{}
	for _, p := range sc.Phases {
		rules[p.Name] = p.Rules
	}
	assert.Empty(t, rules["healthy"], "phase_rules leaves the healthy phase alone")
	require.Len(t, rules["records-gone"], 2)
	assert.Equal(t, "s3-slow", rules["records-gone"][0].Name, "first in its phase")
	r := rules["records-gone"][1]
	assert.Equal(t, "ddb-nodata", r.Name)
	assert.Equal(t, scenarios.Action("servfail"), r.Action)
	require.Len(t, r.Match.Names, 1)
	assert.Equal(t, "dynamodb.us-east-1.amazonaws.com", r.Match.Names[0].Text, "the base's match")
	assert.Nil(t, r.TTL, "not merged: the base's ttl is gone")
	assert.Equal(t, scenarios.Action("empty"), rules["negative-caches-drain"][0].Action, "another rule of the base stays")

	for file, action := range map[string]string{"dynamodb-servfail.yaml": "servfail", "dynamodb-drop.yaml": "drop"} {
		sc, err := scenarios.Load(filepath.Join("..", "examples", "scenarios", file), scenarios.Options{})
		require.NoError(t, err, file)
		assert.Equal(t, scenarios.Action(action), sc.Phases[1].Rules[0].Action, file)
	}
}

// TestVariantMistakesAreRefused: a phase or rule the base lacks, a
// replacement that names its own match, a name repeated, and the keys
// without extends.
func TestVariantMistakesAreRefused(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"version: 1\nextends: aws-dynamodb-us-east-1-2025\nphase_rules: {records-gon: [{action: drop}]}\n", `phase_rules: the base has no phase "records-gon" (did you mean "records-gone"?)`},
		{"version: 1\nextends: aws-dynamodb-us-east-1-2025\nreplace: {ddb-nodta: {action: drop}}\n", `replace: the base has no rule "ddb-nodta" (did you mean "ddb-nodata"?)`},
		{"version: 1\nextends: aws-dynamodb-us-east-1-2025\nreplace: {ddb-nodata: {action: drop, match: {names: [x.test]}}}\n", `replace ddb-nodata: a replacement keeps the base rule's match`},
		{"version: 1\nextends: aws-dynamodb-us-east-1-2025\nphase_rules: {records-gone: [{name: ddb-nodata, action: drop}]}\n", `rule name "ddb-nodata" is already a rule of phase "records-gone"`},
		{"version: 1\nextends: aws-dynamodb-us-east-1-2025\nrules: [{name: ddb-nodata, action: drop}]\n", `rule name "ddb-nodata" is also a rule of phase "records-gone" of the base scenario`},
		{"version: 1\nrules: [{action: drop}]\nreplace: {x: {action: drop}}\n", `replace changes the phases of a scenario this one extends: use it with extends:`},
	} {
		_, err := scenarios.Parse("v.yaml", []byte(tc.text), scenarios.Options{})
		require.Error(t, err, tc.text)
		assert.Contains(t, err.Error(), tc.want)
	}
}
