package scenarios_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/scenarios"
)

const full = `version: 1
name: aws-dynamodb-us-east-1-2025
description: The regional DynamoDB endpoint answers with no records, then recovers.
source: https://aws.amazon.com/message/101925/
params:
  region: us-east-1
upstream: [127.0.0.1:5353, "::1"]
seed: 99
zones:
  - origin: Test.Internal
    records:
      - "api.test.internal. 60 IN A 127.0.0.1"
      - "web 30 IN CNAME api"
phases:
  - name: healthy
    duration: 30s
  - name: dns-empty
    duration: 2h30m
    rules:
      - name: ddb-empty
        match:
          names: ["dynamodb.${region}.amazonaws.com", "*.${region}.api.aws", "~^ec2\\..*\\.amazonaws\\.com$"]
          types: [A, aaaa]
          clients: [10.0.0.0/8, "::1"]
          transport: udp
        action: empty
        delay: 100ms
        jitter: 20ms
        ttl: 900
        probability: {from: 1.0, to: 0.2}
        ede: {code: 22, text: gone}
      - action: answer
        records: ["@ 5 IN A 192.0.2.66", "@ IN CNAME elsewhere.example."]
        keep: 1
        probability: 0.5
  - name: recovery
`

func TestParseFullScenario(t *testing.T) {
	sc, err := scenarios.Parse("full.yaml", []byte(full), scenarios.Options{Set: map[string]string{"region": "eu-west-1"}})
	require.NoError(t, err)
	assert.Equal(t, "aws-dynamodb-us-east-1-2025", sc.Name)
	assert.Equal(t, map[string]string{"region": "eu-west-1"}, sc.Params)
	assert.Equal(t, []string{"127.0.0.1:5353", "[::1]:53"}, sc.Upstream)
	assert.Equal(t, int64(99), sc.Seed)
	require.Len(t, sc.Zones, 1)
	assert.Equal(t, "test.internal.", sc.Zones[0].Origin)
	assert.Equal(t, "web.test.internal.\t30\tIN\tCNAME\tapi.test.internal.", sc.Zones[0].Records[1].String(), "relative names are relative to the origin")

	require.Len(t, sc.Phases, 3)
	assert.Equal(t, []time.Duration{30 * time.Second, 150 * time.Minute, 0}, []time.Duration{sc.Phases[0].Duration, sc.Phases[1].Duration, sc.Phases[2].Duration})
	rules := sc.Phases[1].Rules
	require.Len(t, rules, 2)
	r := rules[0]
	assert.Equal(t, "ddb-empty", r.Name)
	assert.Equal(t, scenarios.Empty, r.Action)
	require.Len(t, r.Match.Names, 3)
	assert.Equal(t, scenarios.NamePattern{Kind: scenarios.Exact, Name: "dynamodb.eu-west-1.amazonaws.com.", Text: "dynamodb.eu-west-1.amazonaws.com"}, r.Match.Names[0], "--set replaced the default")
	assert.Equal(t, scenarios.NamePattern{Kind: scenarios.Wildcard, Name: "eu-west-1.api.aws.", Text: "*.eu-west-1.api.aws"}, r.Match.Names[1])
	assert.True(t, r.Match.Names[2].Regexp.MatchString("ec2.eu-west-1.amazonaws.com"))
	assert.Equal(t, []uint16{dns.TypeA, dns.TypeAAAA}, r.Match.Types)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}, r.Match.Clients)
	assert.Equal(t, scenarios.TransportSet(scenarios.UDP), r.Match.Transport)
	assert.Equal(t, 100*time.Millisecond, r.Delay)
	assert.Equal(t, 20*time.Millisecond, r.Jitter)
	assert.Equal(t, uint32(900), *r.TTL)
	assert.Equal(t, scenarios.Probability{From: 1, To: 0.2}, r.Probability)
	assert.Equal(t, &scenarios.EDE{Code: 22, Text: "gone"}, r.EDE)

	a := rules[1]
	assert.Equal(t, "dns-empty#2", a.Name, "unnamed rules are named after their phase and place")
	assert.Equal(t, scenarios.Probability{From: 0.5, To: 0.5}, a.Probability)
	assert.Equal(t, 1, a.Keep)
	assert.Equal(t, scenarios.QueryName, a.Records[0].Header().Name)
	assert.Equal(t, uint32(60), a.Records[1].Header().Ttl, "records without a TTL get 60 seconds")
}

func TestTopLevelRulesAreOneEndlessPhase(t *testing.T) {
	sc, err := scenarios.Parse("r.yaml", []byte("version: 1\nrules: [{action: servfail}]\n"), scenarios.Options{})
	require.NoError(t, err)
	require.Len(t, sc.Phases, 1)
	assert.Equal(t, "default", sc.Phases[0].Name)
	assert.Zero(t, sc.Phases[0].Duration)
	assert.Equal(t, "r", sc.Name, "the name defaults to the file's")
	assert.Equal(t, scenarios.Always, sc.Phases[0].Rules[0].Probability)
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		desc, yaml string
		want       []string
	}{
		{"misspelt action", "version: 1\nrules:\n  - action: nxdomian\n",
			[]string{`s.yaml:3:13: unknown action "nxdomian" (did you mean "nxdomain"?)`}},
		{"misspelt key", "version: 1\nrules:\n  - actoin: servfail\n",
			[]string{`s.yaml:3:5: unknown key "actoin" in rule (did you mean "action"?)`, `s.yaml:3:5: rule "default#1": missing action; expected one of: pass, nxdomain, servfail, refused, notimp, formerr, empty, drop, answer, truncate, garbage, http-status, tls-fail`}},
		{"unknown top-level key", "version: 1\nzzz: 1\n",
			[]string{`s.yaml:2:1: unknown key "zzz" in the scenario; expected one of: version, extends, name, description, source, params, upstream, zones, seed, startAt, expect, probes, rules, phases, phase_rules, replace`}},
		{"missing version", "name: x\n", []string{`s.yaml:1:1: missing ` + "`version: 1`"}},
		{"future version", "version: 2\n", []string{`s.yaml:1:10: unsupported version 2: this dnsfault reads version 1`}},
		{"yaml syntax", "version: 1\nrules: [\n", []string{`s.yaml:2:1: YAML syntax: did not find expected node content`}},
		{"empty file", "", []string{`s.yaml: empty scenario file: expected at least ` + "`version: 1`"}},
		{"bad duration", "version: 1\nphases:\n  - name: a\n    duration: 30\n  - name: b\n",
			[]string{`s.yaml:4:15: phase duration must be a duration such as 250ms, 30s or 2h30m, got "30"`}},
		{"endless phase before others", "version: 1\nphases:\n  - name: a\n  - name: b\n",
			[]string{`s.yaml:3:5: phase "a" has no duration, so it never ends and the phases after it never start`}},
		{"duplicate phase", "version: 1\nphases:\n  - {name: a, duration: 1s}\n  - {name: a}\n",
			[]string{`s.yaml:4:12: phase name "a" is used twice`}},
		{"both rules and phases", "version: 1\nrules: []\nphases: [{name: a}]\n",
			[]string{`s.yaml:2:8: give either top-level rules (one endless phase) or phases, not both`}},
		{"bad cidr", "version: 1\nrules: [{match: {clients: [10.0.0.0/33]}, action: drop}]\n",
			[]string{`s.yaml:2:28: client "10.0.0.0/33" is not an address or CIDR such as 10.0.0.0/8 or ::1/128`}},
		{"bad regexp", "version: 1\nrules: [{match: {names: [\"~a(\"]}, action: drop}]\n",
			[]string{"s.yaml:2:26: name regexp \"a(\": error parsing regexp: missing closing ): `(?i)a(`"}},
		{"star inside a label", "version: 1\nrules: [{match: {names: [a.b*.com]}, action: drop}]\n",
			[]string{`s.yaml:2:26: name "a.b*.com": * stands for one whole label (dynamodb.*.amazonaws.com); use ~regexp for other patterns`}},
		{"bad type", "version: 1\nrules: [{match: {types: [AAA]}, action: drop}]\n",
			[]string{`s.yaml:2:26: unknown record type "AAA" (did you mean "AAAA"?)`}},
		{"bad transport", "version: 1\nrules: [{match: {transport: quic}, action: drop}]\n",
			[]string{`s.yaml:2:29: transport must be udp, tcp, dot or doh, got "quic"`}},
		{"probability above one", "version: 1\nrules: [{action: servfail, probability: 1.5}]\n",
			[]string{`s.yaml:2:41: probability must be a number from 0 to 1, got "1.5"`}},
		{"ramp missing an end", "version: 1\nrules: [{action: servfail, probability: {from: 1}}]\n",
			[]string{`s.yaml:2:41: probability ramp: missing to`}},
		{"bad record", "version: 1\nzones: [{origin: a.test, records: [\"x.a.test. 60 IN A 1.2.3\"]}]\n",
			[]string{`s.yaml:2:36: record "x.a.test. 60 IN A 1.2.3": "1.2.3" is not an IPv4 address (such as 192.0.2.1)`}},
		{"record outside its zone", "version: 1\nzones: [{origin: a.test, records: [\"x.b.test. 60 IN A 192.0.2.1\"]}]\n",
			[]string{"s.yaml:2:36: record \"x.b.test. 60 IN A 192.0.2.1\": x.b.test. is outside the zone a.test."}},
		{"answer without records", "version: 1\nrules: [{action: answer}]\n",
			[]string{`s.yaml:2:9: rule "default#1": action answer needs records, such as records: ["@ 60 IN A 192.0.2.1"]`}},
		{"records on another action", "version: 1\nrules: [{action: servfail, records: [\"@ A 192.0.2.1\"]}]\n",
			[]string{`s.yaml:2:37: records are only used by action answer, not servfail`}},
		{"relative name in an answer", "version: 1\nrules: [{action: answer, records: [\"@ CNAME elsewhere\"]}]\n",
			[]string{`s.yaml:2:36: record "@ CNAME elsewhere": write names fully qualified (ending in a dot), or @ for the queried name`}},
		{"ttl on drop", "version: 1\nrules: [{action: drop, ttl: 5}]\n",
			[]string{`s.yaml:2:29: ttl has no effect with action drop, which sends no DNS message`}},
		{"keep on nxdomain", "version: 1\nrules: [{action: nxdomain, keep: 1}]\n",
			[]string{`s.yaml:2:34: keep only trims answers of action pass or answer, not nxdomain`}},
		{"unknown parameter", "version: 1\nparams: {region: us-east-1}\nrules: [{match: {names: [\"a.${regoin}.test\"]}, action: drop}]\n",
			[]string{`s.yaml:3:26: name: unknown parameter ${regoin} (did you mean "region"?)`}},
		{"bad upstream", "version: 1\nupstream: dns.google\n",
			[]string{`s.yaml:2:11: upstream: "dns.google" is not system, none, or an IP address with an optional port (such as 127.0.0.1:5353 or [::1]:53)`}},
		{"bad startAt", "version: 1\nstartAt: tomorrow\n",
			[]string{`s.yaml:2:10: startAt must be an RFC 3339 time such as 2025-10-20T06:48:00Z, got "tomorrow"`}},
		{"amplification without a baseline", "version: 1\nexpect: {max_amplification: 3}\nrules: []\n",
			[]string{`s.yaml:2:29: max_amplification compares each phase with a healthy baseline phase: give phases, the first of them healthy`}},
		{"unknown baseline", "version: 1\nexpect: {baseline: helthy}\nphases: [{name: healthy, duration: 1s}, {name: b}]\n",
			[]string{`s.yaml:2:20: baseline: no phase named "helthy" (did you mean "healthy"?)`}},
		{"a directive in a record line", "version: 1\nzones: [{origin: a.test, records: [\"$GENERATE 1-65535 h$ A 192.0.2.1\"]}]\n",
			[]string{`s.yaml:2:36: record "$GENERATE 1-65535 h$ A 192.0.2.1": directives ($ORIGIN, $TTL, $GENERATE, $INCLUDE) belong in zone files, not in a record line`}},
		{"duplicate key", "version: 1\nversion: 1\n", []string{`s.yaml:2:1: the scenario: key "version" given twice`}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			sc, err := scenarios.Parse("s.yaml", []byte(tc.yaml), scenarios.Options{})
			assert.Nil(t, sc, "a file with errors yields no scenario")
			var list scenarios.ErrorList
			require.True(t, errors.As(err, &list), "want an ErrorList, got %v", err)
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEveryErrorIsReportedAtOnce(t *testing.T) {
	text := "version: 1\nrules:\n  - action: nxdomian\n  - {action: servfail, delay: soon}\n  - {action: drop, probability: 2}\n"
	_, err := scenarios.Parse("s.yaml", []byte(text), scenarios.Options{})
	var list scenarios.ErrorList
	require.ErrorAs(t, err, &list)
	assert.Len(t, list, 3)
}

func TestSetMustNameADeclaredParameter(t *testing.T) {
	_, err := scenarios.Parse("s.yaml", []byte("version: 1\nparams: {region: us-east-1}\n"), scenarios.Options{Set: map[string]string{"regoin": "x"}})
	assert.EqualError(t, err, `s.yaml: --set regoin: the scenario has no parameter "regoin" (did you mean "region"?)`)
}

func TestSeedOverride(t *testing.T) {
	seed := int64(5)
	sc, err := scenarios.Parse("s.yaml", []byte("version: 1\nseed: 1\n"), scenarios.Options{Seed: &seed})
	require.NoError(t, err)
	assert.Equal(t, int64(5), sc.Seed)
	assert.True(t, sc.HasSeed)
}

func TestZoneFileIsReadRelativeToTheScenario(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "zones"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zones", "t.zone"), []byte("$TTL 120\n@ IN SOA ns hostmaster 1 2 3 4 5\nwww IN A 192.0.2.8\n"), 0o644))
	path := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("version: 1\nzones: [{origin: t.test., file: zones/t.zone}]\n"), 0o644))
	sc, err := scenarios.Load(path, scenarios.Options{})
	require.NoError(t, err)
	require.Len(t, sc.Zones[0].Records, 2)
	assert.Equal(t, "www.t.test.\t120\tIN\tA\t192.0.2.8", sc.Zones[0].Records[1].String())
}

func TestZoneFileErrorsNameTheZoneFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "t.zone"), []byte("www 60 IN A 192.0.2.8\nbad 60 IN A 300.1.1.1\n"), 0o644))
	path := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("version: 1\nzones: [{origin: t.test., file: t.zone}]\n"), 0o644))
	_, err := scenarios.Load(path, scenarios.Options{})
	assert.EqualError(t, err, `t.zone:2:21: the value is not an IPv4 address (such as 192.0.2.1)`, "where and what, never the file's text")
}

// TestZoneFileErrorsNeverQuoteTheFile: --zone pointed at a file of
// secrets, or a scenario's zone file whose bad line holds one, gets the
// place and the kind of mistake, without the text.
func TestZoneFileErrorsNeverQuoteTheFile(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets.env")
	require.NoError(t, os.WriteFile(secrets, []byte("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n"), 0o600))
	_, err := scenarios.ReadZoneFile(secrets)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "wJalrXUtnFEMI")
	assert.Contains(t, err.Error(), "secrets.env:1:")

	zone := filepath.Join(dir, "t.zone")
	require.NoError(t, os.WriteFile(zone, []byte("www 60 IN A 192.0.2.8\nkey 60 IN TXT \"ok\"\nsecret 60 IN A AKIAIOSFODNN7EXAMPLE\n"), 0o644))
	path := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("version: 1\nzones: [{origin: t.test., file: t.zone}]\n"), 0o644))
	_, err = scenarios.Load(path, scenarios.Options{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "AKIAIOSFODNN7")
	assert.Contains(t, err.Error(), "t.zone:3:")
}

// TestARecordTooLargeForAnyMessageIsRefused: a TXT of 70,000 bytes loads
// nowhere (a scenario's records, a zone file, --zone): no answer could
// carry it.
func TestARecordTooLargeForAnyMessageIsRefused(t *testing.T) {
	var txt strings.Builder
	for range 280 {
		txt.WriteString(` "` + strings.Repeat("t", 250) + `"`)
	}
	line := "big.t.test. 60 IN TXT" + txt.String()
	_, err := scenarios.Parse("s.yaml", []byte("version: 1\nzones: [{origin: t.test., records: ['"+line+"']}]\n"), scenarios.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a DNS message holds at most 65,535 bytes")
	assert.Less(t, len(err.Error()), 400)

	zone := filepath.Join(t.TempDir(), "t.zone")
	require.NoError(t, os.WriteFile(zone, []byte("$ORIGIN t.test.\n@ 60 IN SOA ns h 1 2 3 4 5\n"+line+"\n"), 0o644))
	_, err = scenarios.ReadZoneFile(zone)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a DNS message holds at most 65,535 bytes")

	_, err = scenarios.Parse("s.yaml", []byte("version: 1\nrules: [{name: r, action: answer, records: ['"+strings.Replace(line, "big.t.test.", "@", 1)+"']}]\n"), scenarios.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a DNS message holds at most 65,535 bytes")
}

func TestEveryBundledScenarioIsValid(t *testing.T) {
	names := scenarios.Bundled()
	require.Contains(t, names, "demo")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			_, err := scenarios.Open(name, scenarios.Options{})
			assert.NoError(t, err)
		})
	}
}

func TestOpenSuggestsABundledName(t *testing.T) {
	_, err := scenarios.Open("dmeo", scenarios.Options{})
	assert.EqualError(t, err, `no bundled scenario "dmeo" (did you mean "demo"?); see `+"`dnsfault scenarios list`")
}

func TestZoneFilesMayNotInclude(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "t.zone"), []byte("$INCLUDE /etc/passwd\n"), 0o644))
	path := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(path, []byte("version: 1\nzones: [{origin: t.test., file: t.zone}]\n"), 0o644))
	_, err := scenarios.Load(path, scenarios.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.zone:1:")
	assert.Contains(t, err.Error(), "$INCLUDE")
}
