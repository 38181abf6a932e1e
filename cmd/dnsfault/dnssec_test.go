package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// serve with a signed zone: the banner and ctl status say which zones are
// signed and where the anchors are, the anchors are written, and dig with
// +dnssec gets the signature.
func TestServeSignsAndWritesTheTrustAnchors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scenario := filepath.Join(dir, "signed.yaml")
	require.NoError(t, os.WriteFile(scenario, []byte(`version: 1
upstream: none
zones:
  - origin: signed.test.
    dnssec: true
    records: ["www 60 IN A 192.0.2.1"]
rules:
  - {match: {names: [www.signed.test], types: [AAAA]}, action: pass, dnssec: nsec-missing}
`), 0o644))
	anchors := filepath.Join(dir, "anchors.ds")
	s := serve(t, "-s", scenario, "--dnssec-anchors", anchors)
	banner := regexp.MustCompile(`signed signed\.test\. key \d+ ECDSAP256SHA256, trust anchors in ` + regexp.QuoteMeta(anchors))
	require.Eventually(t, func() bool { return banner.MatchString(s.log()) }, dnstest.Patience(10*time.Second), 10*time.Millisecond, "the banner's second line:\n%s", s.log())

	text, err := os.ReadFile(anchors)
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^signed\.test\.\s+\d+\s+IN\s+DS\s+\d+ 13 2 [0-9A-F]{64}$`, string(text))

	r := s.ctl(t, "status")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `signed\s+signed\.test\. key \d+ ECDSAP256SHA256`, r.stdout)
	assert.Regexp(t, `trust anchors\s+`+regexp.QuoteMeta(anchors), r.stdout)

	out, code := s.dig(t, "+dnssec", "+norec", "www.signed.test", "A")
	require.Equal(t, 0, code, out)
	assert.Regexp(t, `www\.signed\.test\.\s+60\s+IN\s+RRSIG\s+A 13 3 60 `, out)
	out, _ = s.dig(t, "+dnssec", "+norec", "www.signed.test", "AAAA")
	assert.NotContains(t, out, "NSEC\t", "the rule takes the proof away:\n%s", out)
	assert.Contains(t, out, "RRSIG\tSOA", out)
}

func TestAnUnwritableAnchorsFileIsAFlagError(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "a.ds")
	r := runDnsfault(t, "serve", "--dnssec-anchors", missing)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--dnssec-anchors: cannot write "+missing)
}
