package scenarios_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/scenarios"
)

func TestDNSSECInScenarios(t *testing.T) {
	sc, err := scenarios.Parse("s.yaml", []byte(`version: 1
zones:
  - {origin: a.test, dnssec: true}
  - {origin: b.test, dnssec: {algorithm: ed25519}}
  - {origin: c.test, dnssec: false}
  - {origin: d.test, dnssec: {nsec3: true}}
  - {origin: e.test, dnssec: {nsec3: {iterations: 10, salt: aabb}}}
rules:
  - {match: {names: [www.a.test]}, action: pass, dnssec: Expired}
  - {match: {names: [a.test], types: [DNSKEY]}, action: pass, dnssec: dnskey-missing}
`), scenarios.Options{})
	require.NoError(t, err)
	assert.Equal(t, dns.ECDSAP256SHA256, sc.Zones[0].DNSSEC.Algorithm)
	assert.Equal(t, dns.ED25519, sc.Zones[1].DNSSEC.Algorithm)
	assert.Nil(t, sc.Zones[2].DNSSEC)
	assert.Nil(t, sc.Zones[0].DNSSEC.NSEC3, "NSEC unless nsec3 is asked for")
	assert.Equal(t, &scenarios.NSEC3Params{}, sc.Zones[3].DNSSEC.NSEC3)
	assert.Equal(t, &scenarios.NSEC3Params{Iterations: 10, Salt: "AABB"}, sc.Zones[4].DNSSEC.NSEC3)
	rules := sc.Phases[0].Rules
	assert.Equal(t, scenarios.SigExpired, rules[0].DNSSEC)
	assert.Contains(t, rules[0].Summary(), ", dnssec expired")
}

func TestDNSSECErrors(t *testing.T) {
	for _, c := range []struct{ desc, yaml, want string }{
		{"misspelt fault", "version: 1\nrules: [{action: pass, dnssec: expird}]\n",
			`s.yaml:2:32: unknown dnssec fault "expird" (did you mean "expired"?)`},
		{"a fault with no message", "version: 1\nrules: [{action: drop, dnssec: bogus}]\n",
			`s.yaml:2:32: dnssec has no effect with action drop, which sends no DNS message`},
		{"a key fault on other types", "version: 1\nrules: [{match: {types: [A]}, action: pass, dnssec: ds-mismatch}]\n",
			`s.yaml:2:53: dnssec: ds-mismatch changes answers to DS queries, which this rule's types leave out: add DS to match.types`},
		{"an algorithm dnsfault does not sign with", "version: 1\nzones: [{origin: a.test, dnssec: {algorithm: RSASHA1}}]\n",
			`s.yaml:2:46: dnssec algorithm "RSASHA1" is not one dnsfault signs with; expected one of: ECDSAP256SHA256, ED25519`},
		{"not a boolean", "version: 1\nzones: [{origin: a.test, dnssec: yes-please}]\n",
			`s.yaml:2:34: zone dnssec must be true, false or a mapping with algorithm and key, got "yes-please"`},
		{"too many NSEC3 iterations", "version: 1\nzones: [{origin: a.test, dnssec: {nsec3: {iterations: 151}}}]\n",
			`s.yaml:2:55: nsec3 iterations 151: validators take at most 150 (BIND and unbound treat the zone as insecure past it), and each costs every denial a hash; RFC 9276 asks for 0. To test that fault on purpose, add insecure: true`},
		{"far too many NSEC3 iterations", "version: 1\nzones: [{origin: a.test, dnssec: {nsec3: {iterations: 70000, insecure: true}}}]\n",
			`nsec3 iterations must be a whole number from 0 to 65535, got "70000"`},
		{"a salt that is not hex", "version: 1\nzones: [{origin: a.test, dnssec: {nsec3: {salt: XYZ}}}]\n",
			`nsec3 salt must be hex digits`},
		{"a key file over the API", "version: 1\nzones: [{origin: a.test, dnssec: {key: Ka}}]\n",
			`s.yaml:2:40: dnssec key "Ka": x`},
	} {
		t.Run(c.desc, func(t *testing.T) {
			_, err := scenarios.Parse("s.yaml", []byte(c.yaml), scenarios.Options{NoFilesWhy: "x"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestDNSSECKeyFilesAreChecked(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "other.test.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: 257, Protocol: 3, Algorithm: dns.ED25519}
	priv, err := key.Generate(256)
	require.NoError(t, err)
	write("Kother.key", key.String()+"\n")
	write("Kother.private", key.PrivateKeyString(priv))
	write("Kbroken.key", key.String()+"\n")
	write("Kbroken.private", "Private-key-format: v1.3\nAlgorithm: 15 (ED25519)\nPrivateKey: secret-that-must-not-be-quoted\n")
	for _, c := range []struct{ zone, want string }{
		{"{origin: a.test, dnssec: {algorithm: ED25519, key: Kother}}", `dnssec key Kother.key is a key of other.test., not of the zone a.test.`},
		{"{origin: other.test, dnssec: {key: Kother}}", `dnssec key Kother.key is an ED25519 key; the zone's algorithm is ECDSAP256SHA256 (give algorithm: ED25519)`},
		{"{origin: other.test, dnssec: {algorithm: ED25519, key: Kbroken}}", `dnssec key Kbroken.private is not a private key for Kbroken.key`},
		{"{origin: other.test, dnssec: {algorithm: ED25519, key: Kmissing}}", `Kmissing.key`},
	} {
		file := filepath.Join(dir, "s.yaml")
		write("s.yaml", "version: 1\nzones: ["+c.zone+"]\n")
		_, err := scenarios.Load(file, scenarios.Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
		assert.NotContains(t, err.Error(), "secret-that-must-not-be-quoted")
	}
	write("s.yaml", "version: 1\nzones: [{origin: other.test, dnssec: {algorithm: ED25519, key: Kother.private}}]\n")
	sc, err := scenarios.Load(filepath.Join(dir, "s.yaml"), scenarios.Options{})
	require.NoError(t, err)
	assert.Equal(t, key.PublicKey, sc.Zones[0].DNSSEC.Key.PublicKey)
}

// --zone (and extends:) replace a zone's records, not its signing.
func TestMergedZonesStaySigned(t *testing.T) {
	signed := scenarios.Zone{Origin: "a.test.", DNSSEC: &scenarios.ZoneDNSSEC{Algorithm: dns.ED25519}}
	mine := scenarios.Zone{Origin: "a.test.", Records: []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "www.a.test.", Rrtype: dns.TypeA, Class: dns.ClassINET}}}}
	merged := scenarios.MergeZones([]scenarios.Zone{signed}, []scenarios.Zone{mine})
	require.Len(t, merged, 1)
	assert.Equal(t, mine.Records, merged[0].Records)
	assert.Equal(t, signed.DNSSEC, merged[0].DNSSEC)
}
