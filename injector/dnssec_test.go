package injector_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/injector/dnssec"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// signedScenario is a signed parent with a signed child (Ed25519), an
// unsigned child, and rules whose answers a signer must make up.
const signedScenario = `
version: 1
upstream: none
zones:
  - origin: sig.test.
    dnssec: true
    records:
      - "@ 300 IN SOA ns.sig.test. h.sig.test. 1 3600 600 86400 60"
      - "@ 300 IN NS ns.sig.test."
      - "ns 300 IN A 127.0.0.1"
      - "www 300 IN A 192.0.2.1"
      - "www 300 IN A 192.0.2.2"
      - "alias 300 IN CNAME www"
      - "*.wild 300 IN A 192.0.2.9"
      - "deep.ent.below 300 IN TXT hello"
      - "mail 300 IN MX 10 www"
  - origin: child.sig.test.
    dnssec: {algorithm: ED25519}
    records:
      - "@ 300 IN SOA ns.sig.test. h.sig.test. 1 3600 600 86400 60"
      - "api 300 IN A 192.0.2.7"
  - origin: plain.sig.test.
    records: ["api 300 IN A 192.0.2.8"]
rules:
  - {match: {names: [gone.sig.test]}, action: nxdomain}
  - {match: {names: [www.sig.test], types: [TXT]}, action: empty}
  - {match: {names: [made.sig.test]}, action: answer, records: ["@ 60 IN A 203.0.113.1"]}
  - {match: {names: [one.sig.test]}, action: answer, records: ["@ 60 IN A 203.0.113.1", "@ 60 IN A 203.0.113.2"], keep: 1}
  - {match: {names: [bad.sig.test]}, action: answer, records: ["@ 60 IN A 203.0.113.1"], dnssec: bogus}
  - {match: {names: [tc.sig.test]}, action: truncate}
`

// askDO sends a query with the DO bit and a 4096-byte buffer over TCP,
// so the signatures fit.
func askDO(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = false
	q.SetEdns0(4096, true)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: timeout}).Exchange(q, addr)
	require.NoError(t, err)
	return r
}

// servedKeys returns the DNSKEYs dnsfault serves for each zone, by
// owner, verified against themselves.
func servedKeys(t *testing.T, addr string, zones ...string) map[string]*dns.DNSKEY {
	keys := map[string]*dns.DNSKEY{}
	for _, z := range zones {
		r := askDO(t, addr, z, dns.TypeDNSKEY)
		for _, rr := range r.Answer {
			if k, ok := rr.(*dns.DNSKEY); ok {
				keys[strings.ToLower(k.Hdr.Name)] = k
			}
		}
		require.Contains(t, keys, z, "no DNSKEY served for %s", z)
	}
	return keys
}

// verifySections checks every RRSIG of the answer and authority
// sections with RRSIG.Verify against the served key, and that every
// RRset there but a referral's NS has one.
func verifySections(t *testing.T, r *dns.Msg, keys map[string]*dns.DNSKEY) {
	t.Helper()
	for _, section := range [][]dns.RR{r.Answer, r.Ns} {
		sets := map[string][]dns.RR{}
		sigs := map[string]*dns.RRSIG{}
		for _, rr := range section {
			h := rr.Header()
			if sig, ok := rr.(*dns.RRSIG); ok {
				sigs[strings.ToLower(h.Name)+"/"+dns.TypeToString[sig.TypeCovered]] = sig
				continue
			}
			id := strings.ToLower(h.Name) + "/" + dns.TypeToString[h.Rrtype]
			sets[id] = append(sets[id], rr)
		}
		for id, set := range sets {
			if set[0].Header().Rrtype == dns.TypeNS && !r.Authoritative {
				continue // a referral: the child's NS, not signed by the parent
			}
			sig := sigs[id]
			if !assert.NotNil(t, sig, "%s has no RRSIG in\n%s", id, r) {
				continue
			}
			key := keys[strings.ToLower(sig.SignerName)]
			require.NotNil(t, key, "no key for signer %s", sig.SignerName)
			assert.Equal(t, key.KeyTag(), sig.KeyTag)
			assert.NoError(t, sig.Verify(key, set), "RRSIG over %s does not verify", id)
			assert.True(t, sig.ValidityPeriod(time.Now()), "RRSIG over %s is not valid now", id)
		}
	}
}

// covers tells whether some NSEC of section covers name (owner < name <
// next in canonical order, wrapping at the end of the zone).
func covers(section []dns.RR, name string) bool {
	for _, rr := range section {
		nsec, ok := rr.(*dns.NSEC)
		if !ok {
			continue
		}
		owner, next := nsec.Hdr.Name, nsec.NextDomain
		if dnssec.Less(owner, name) && (dnssec.Less(name, next) || !dnssec.Less(owner, next)) {
			return true
		}
	}
	return false
}

// nsecAt returns the NSEC owned by name in section.
func nsecAt(section []dns.RR, name string) *dns.NSEC {
	for _, rr := range section {
		if nsec, ok := rr.(*dns.NSEC); ok && strings.EqualFold(nsec.Hdr.Name, name) {
			return nsec
		}
	}
	return nil
}

func hasBit(nsec *dns.NSEC, t uint16) bool {
	for _, b := range nsec.TypeBitMap {
		if b == t {
			return true
		}
	}
	return false
}

func TestSignedAnswersVerifyAgainstTheServedKeys(t *testing.T) {
	srv := start(t, signedScenario, injector.Config{})
	addr := srv.Addr()
	keys := servedKeys(t, addr, "sig.test.", "child.sig.test.")

	t.Run("positive", func(t *testing.T) {
		r := askDO(t, addr, "www.sig.test.", dns.TypeA)
		require.Equal(t, dns.RcodeSuccess, r.Rcode)
		require.Len(t, r.Answer, 3) // two A and their RRSIG
		assert.True(t, r.IsEdns0().Do(), "the reply echoes DO")
		verifySections(t, r, keys)
	})
	t.Run("a CNAME chain", func(t *testing.T) {
		r := askDO(t, addr, "alias.sig.test.", dns.TypeA)
		require.Len(t, r.Answer, 5) // CNAME, RRSIG, two A, RRSIG
		verifySections(t, r, keys)
	})
	t.Run("a wildcard proves the name does not exist", func(t *testing.T) {
		r := askDO(t, addr, "x.wild.sig.test.", dns.TypeA)
		require.Len(t, r.Answer, 2)
		sig := r.Answer[1].(*dns.RRSIG)
		assert.EqualValues(t, 3, sig.Labels, "the wildcard's label count")
		assert.True(t, covers(r.Ns, "x.wild.sig.test."))
		verifySections(t, r, keys)
	})
	t.Run("NXDOMAIN proves the name and the wildcard absent", func(t *testing.T) {
		r := askDO(t, addr, "nope.sig.test.", dns.TypeA)
		require.Equal(t, dns.RcodeNameError, r.Rcode)
		assert.True(t, covers(r.Ns, "nope.sig.test."))
		assert.True(t, covers(r.Ns, "*.sig.test."))
		verifySections(t, r, keys)
	})
	t.Run("NODATA shows the types the name has", func(t *testing.T) {
		r := askDO(t, addr, "www.sig.test.", dns.TypeAAAA)
		require.Equal(t, dns.RcodeSuccess, r.Rcode)
		require.Empty(t, r.Answer)
		nsec := nsecAt(r.Ns, "www.sig.test.")
		require.NotNil(t, nsec)
		assert.True(t, hasBit(nsec, dns.TypeA))
		assert.False(t, hasBit(nsec, dns.TypeAAAA))
		verifySections(t, r, keys)
	})
	t.Run("NODATA at an empty non-terminal", func(t *testing.T) {
		r := askDO(t, addr, "ent.below.sig.test.", dns.TypeA)
		require.Equal(t, dns.RcodeSuccess, r.Rcode)
		assert.True(t, covers(r.Ns, "ent.below.sig.test."))
		verifySections(t, r, keys)
	})
	t.Run("the DS of the child is the parent's, and matches the child's key", func(t *testing.T) {
		r := askDO(t, addr, "child.sig.test.", dns.TypeDS)
		require.Len(t, r.Answer, 2)
		ds := r.Answer[0].(*dns.DS)
		assert.Equal(t, strings.ToUpper(keys["child.sig.test."].ToDS(ds.DigestType).Digest), strings.ToUpper(ds.Digest))
		assert.Equal(t, "sig.test.", r.Answer[1].(*dns.RRSIG).SignerName)
		verifySections(t, r, keys)
	})
	t.Run("the unsigned child's delegation proves it has no DS", func(t *testing.T) {
		r := askDO(t, addr, "plain.sig.test.", dns.TypeDS)
		nsec := nsecAt(r.Ns, "plain.sig.test.")
		require.NotNil(t, nsec, "%s", r)
		assert.True(t, hasBit(nsec, dns.TypeNS))
		assert.False(t, hasBit(nsec, dns.TypeDS))
		verifySections(t, r, keys)
		r = askDO(t, addr, "api.plain.sig.test.", dns.TypeA)
		assert.Len(t, r.Answer, 1, "an unsigned zone's answer has no RRSIG")
	})
	t.Run("the child's own answers are signed by the child", func(t *testing.T) {
		r := askDO(t, addr, "api.child.sig.test.", dns.TypeA)
		require.Len(t, r.Answer, 2)
		assert.Equal(t, dns.ED25519, r.Answer[1].(*dns.RRSIG).Algorithm)
		verifySections(t, r, keys)
	})
	t.Run("a fault's NXDOMAIN, NODATA and records are signed too", func(t *testing.T) {
		r := askDO(t, addr, "gone.sig.test.", dns.TypeA)
		require.Equal(t, dns.RcodeNameError, r.Rcode)
		assert.True(t, covers(r.Ns, "gone.sig.test."), "a white lie covers the name")
		assert.True(t, covers(r.Ns, "*.sig.test."))
		verifySections(t, r, keys)

		r = askDO(t, addr, "www.sig.test.", dns.TypeTXT)
		nsec := nsecAt(r.Ns, "www.sig.test.")
		require.NotNil(t, nsec)
		assert.False(t, hasBit(nsec, dns.TypeTXT))
		verifySections(t, r, keys)

		r = askDO(t, addr, "made.sig.test.", dns.TypeA)
		require.Len(t, r.Answer, 2)
		verifySections(t, r, keys)

		r = askDO(t, addr, "one.sig.test.", dns.TypeA)
		require.Len(t, r.Answer, 2, "keep: 1 leaves one record, signed again")
		verifySections(t, r, keys)

		q := new(dns.Msg)
		q.SetQuestion("tc.sig.test.", dns.TypeA)
		q.SetEdns0(4096, true)
		r, _, err := (&dns.Client{Timeout: timeout}).Exchange(q, addr)
		require.NoError(t, err)
		assert.True(t, r.Truncated)
		assert.Empty(t, r.Ns, "a truncated answer proves nothing: the client asks again over TCP")
	})
}

func TestAnswersWithoutDOCarryNoDNSSECRecords(t *testing.T) {
	srv := start(t, signedScenario, injector.Config{})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.sig.test.", dns.TypeA}, {"nope.sig.test.", dns.TypeA}, {"www.sig.test.", dns.TypeAAAA}, {"x.wild.sig.test.", dns.TypeA}, {"gone.sig.test.", dns.TypeA}, {"made.sig.test.", dns.TypeA}, {"child.sig.test.", dns.TypeNS}} {
		r := ask(t, srv, "udp", q.name, q.qtype)
		for _, rr := range append(append(r.Answer, r.Ns...), r.Extra...) {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDS:
				t.Errorf("%s %s without DO carries %s", q.name, dns.TypeToString[q.qtype], rr)
			}
		}
	}
}

func TestTrustAnchorsAreTheTopZonesDS(t *testing.T) {
	dir := t.TempDir()
	anchors := filepath.Join(dir, "anchors.ds")
	srv := start(t, signedScenario, injector.Config{DNSSECAnchors: anchors})
	keys := servedKeys(t, srv.Addr(), "sig.test.")

	text, err := os.ReadFile(anchors)
	require.NoError(t, err)
	var ds []*dns.DS
	zp := dns.NewZoneParser(strings.NewReader(string(text)), "", anchors)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		ds = append(ds, rr.(*dns.DS))
	}
	require.NoError(t, zp.Err())
	require.Len(t, ds, 1, "only sig.test.: its signed child is vouched for by its DS")
	assert.Equal(t, "sig.test.", ds[0].Hdr.Name)
	assert.Equal(t, strings.ToUpper(keys["sig.test."].ToDS(dns.SHA256).Digest), strings.ToUpper(ds[0].Digest))

	bind := filepath.Join(dir, "anchors.conf")
	start(t, signedScenario, injector.Config{DNSSECAnchors: bind})
	conf, err := os.ReadFile(bind)
	require.NoError(t, err)
	assert.Regexp(t, `(?s)trust-anchors \{\n\t"sig\.test\." static-ds \d+ 13 2 "[0-9A-F]{64}";\n\};`, string(conf))
}

func TestKeysStayTheSameAcrossReloadsAndFromFiles(t *testing.T) {
	srv := start(t, signedScenario, injector.Config{})
	before := servedKeys(t, srv.Addr(), "sig.test.")["sig.test."]
	require.NoError(t, srv.Load(parse(t, signedScenario), "test", true))
	after := servedKeys(t, srv.Addr(), "sig.test.")["sig.test."]
	assert.Equal(t, before.PublicKey, after.PublicKey, "a reload signs with the key the validator trusts")

	// A key written as dnssec-keygen writes it is read from its files.
	dir := t.TempDir()
	key, err := dnssec.GenerateKey("files.test.", dns.ED25519)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Kfiles.key"), []byte(key.DNSKEY.String()+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Kfiles.private"), []byte(key.DNSKEY.PrivateKeyString(key.Signer)), 0o600))
	file := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
version: 1
upstream: none
zones:
  - origin: files.test.
    dnssec: {algorithm: ED25519, key: Kfiles}
    records: ["www 60 IN A 192.0.2.1"]
`), 0o644))
	sc, err := scenarios.Load(file, scenarios.Options{})
	require.NoError(t, err)
	for range 2 {
		s := dnsfaulttest.Serve(t, sc, injector.Config{})
		served := servedKeys(t, s.Addr(), "files.test.")["files.test."]
		assert.Equal(t, key.DNSKEY.PublicKey, served.PublicKey)
		verifySections(t, askDO(t, s.Addr(), "www.files.test.", dns.TypeA), map[string]*dns.DNSKEY{"files.test.": served})
		// A zone given without a SOA serves the synthetic one, signed.
		nx := askDO(t, s.Addr(), "nope.files.test.", dns.TypeA)
		require.Equal(t, dns.RcodeNameError, nx.Rcode)
		verifySections(t, nx, map[string]*dns.DNSKEY{"files.test.": served})
	}
}

// delv (BIND's validating lookup tool) trusts the BIND form of the
// anchors and follows the chain: parent, DS, child.
func TestDelvValidatesWithTheBINDAnchors(t *testing.T) {
	delv := requireTool(t, "delv", "bind9-dnsutils")
	anchors := filepath.Join(t.TempDir(), "anchors.conf")
	srv := start(t, signedScenario, injector.Config{DNSSECAnchors: anchors})
	host, port, _ := net.SplitHostPort(srv.Addr())
	lookup := func(name string) string {
		ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(60*time.Second))
		defer cancel()
		out, _ := exec.CommandContext(ctx, delv, "@"+host, "-p", port, "-a", anchors, "+root=sig.test", "+rtrace", name, "A").CombinedOutput()
		return string(out)
	}
	out := lookup("www.sig.test.")
	assert.Contains(t, out, "; fully validated", out)
	out = lookup("api.child.sig.test.")
	assert.Contains(t, out, "; fully validated", out)
	assert.Contains(t, out, "fetch: child.sig.test/DS", "the chain goes through the parent's DS:\n%s", out)
	out = lookup("bad.sig.test.")
	assert.NotContains(t, out, "; fully validated", out)
	assert.Contains(t, out, "resolution failed", out)
}

// A scenario that cannot be compiled (here: its anchors cannot be
// written) is an error from New, never a crash.
func TestAnchorsThatCannotBeWrittenAreAnError(t *testing.T) {
	_, err := injector.New(injector.Config{Listen: "127.0.0.1:0", DNSSECAnchors: filepath.Join(t.TempDir(), "no", "such", "dir", "a.ds")}, parse(t, signedScenario))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--dnssec-anchors")
}

// An NSEC3 zone's negative answers carry NSEC3 proofs (RFC 5155 7.2),
// checked with miekg/dns's Cover and Match, and verified.
func TestNSEC3ProofsVerify(t *testing.T) {
	srv := start(t, `
version: 1
upstream: none
zones:
  - origin: n3.test.
    dnssec: {nsec3: {iterations: 0, salt: ""}}
    records:
      - "@ 300 IN SOA ns.n3.test. h.n3.test. 1 3600 600 86400 60"
      - "www 300 IN A 192.0.2.1"
      - "*.wild 300 IN A 192.0.2.9"
      - "deep.ent 300 IN TXT hello"
rules:
  - {match: {names: [gone.n3.test]}, action: nxdomain}
  - {match: {names: [www.n3.test], types: [TXT]}, action: empty}
`, injector.Config{})
	addr := srv.Addr()
	keys := servedKeys(t, addr, "n3.test.")
	nsec3s := func(r *dns.Msg) []*dns.NSEC3 {
		var out []*dns.NSEC3
		for _, rr := range r.Ns {
			if n, ok := rr.(*dns.NSEC3); ok {
				out = append(out, n)
			}
		}
		require.NotEmpty(t, out, "no NSEC3 in\n%s", r)
		return out
	}
	matches := func(r *dns.Msg, name string) *dns.NSEC3 {
		for _, n := range nsec3s(r) {
			if n.Match(name) {
				return n
			}
		}
		return nil
	}
	covered := func(r *dns.Msg, name string) bool {
		for _, n := range nsec3s(r) {
			if n.Cover(name) {
				return true
			}
		}
		return false
	}
	for _, name := range []string{"nope.n3.test.", "gone.n3.test."} {
		r := askDO(t, addr, name, dns.TypeA)
		require.Equal(t, dns.RcodeNameError, r.Rcode, name)
		assert.NotNil(t, matches(r, "n3.test."), "%s: the closest encloser matches", name)
		assert.True(t, covered(r, name), "%s: the next closer name is covered", name)
		assert.True(t, covered(r, "*.n3.test."), "%s: the wildcard is covered", name)
		verifySections(t, r, keys)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.n3.test.", dns.TypeAAAA}, {"www.n3.test.", dns.TypeTXT}, {"ent.n3.test.", dns.TypeA}} {
		r := askDO(t, addr, q.name, q.qtype)
		require.Equal(t, dns.RcodeSuccess, r.Rcode)
		require.Empty(t, r.Answer)
		m := matches(r, q.name)
		require.NotNil(t, m, "%s %s: the name matches", q.name, dns.TypeToString[q.qtype])
		assert.False(t, hasNSEC3Bit(m, q.qtype))
		verifySections(t, r, keys)
	}
	r := askDO(t, addr, "x.wild.n3.test.", dns.TypeA)
	require.Len(t, r.Answer, 2)
	assert.True(t, covered(r, "x.wild.n3.test."), "the wildcard answer proves the next closer name absent")
	verifySections(t, r, keys)
}

func hasNSEC3Bit(n *dns.NSEC3, t uint16) bool {
	for _, b := range n.TypeBitMap {
		if b == t {
			return true
		}
	}
	return false
}

// The events (and so the query log, the recording and run's report) say
// which DNSSEC fault broke an answer, and only when it did.
func TestEventsNameTheDNSSECFault(t *testing.T) {
	events := make(chan *injector.Event, 16)
	srv := start(t, signedScenario, injector.Config{Observe: func(ev *injector.Event) {
		c := *ev
		events <- &c
	}})
	askDO(t, srv.Addr(), "bad.sig.test.", dns.TypeA)
	assert.Equal(t, "bogus", (<-events).DNSSEC, "with DO, the answer was broken")
	ask(t, srv, "udp", "bad.sig.test.", dns.TypeA)
	assert.Empty(t, (<-events).DNSSEC, "without DO there was nothing to break")
}
