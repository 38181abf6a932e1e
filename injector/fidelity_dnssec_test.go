package injector_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The differential test again, with the zone signed by both: Knot with a
// combined signing key and NSEC, dnsfault with dnssec: on. Keys and
// signatures differ; which RRsets carry an RRSIG, and which NSEC records
// an answer holds, with their next names and types, must not.

// knotSigning signs the zone as dnsfault does: one ECDSA P-256 key that
// signs everything, and NSEC.
const knotSigning = `policy:
  - id: csk
    algorithm: ecdsap256sha256
    single-type-signing: on
    nsec3: off
    cds-cdnskey-publish: none
zone:
    dnssec-signing: on
    dnssec-policy: csk
    zonefile-sync: -1
`

// signedView is an answer reduced to what both signers must agree on:
// the records as viewOf reads them, but an RRSIG by what it covers and a
// DNSKEY by its flags and algorithm.
func signedView(m *dns.Msg, allowed map[string]int) view {
	v := viewOf(m, allowed)
	for i, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		var out []string
		for _, rr := range section {
			switch r := rr.(type) {
			case *dns.OPT:
				continue
			case *dns.RRSIG:
				out = append(out, fmt.Sprintf("%s %d RRSIG covers %s, alg %d, labels %d, original TTL %d, signer %s",
					strings.ToLower(r.Hdr.Name), r.Hdr.Ttl, dns.TypeToString[r.TypeCovered], r.Algorithm, r.Labels, r.OrigTtl, strings.ToLower(r.SignerName)))
			case *dns.SOA:
				// Knot adds one to the serial when it signs the zone.
				c := *r
				c.Serial = 0
				out = append(out, strings.ToLower(c.String()))
				allowed["serial"]++
			case *dns.DNSKEY:
				out = append(out, fmt.Sprintf("%s %d DNSKEY %d %d %d", strings.ToLower(r.Hdr.Name), r.Hdr.Ttl, r.Flags, r.Protocol, r.Algorithm))
			default:
				text := rr.String()
				if t := rr.Header().Rrtype; t != dns.TypeTXT && t != dns.TypeHINFO {
					text = strings.ToLower(text)
				}
				out = append(out, text)
			}
		}
		sort.Strings(out)
		v.sections[i] = out
	}
	return v
}

func TestSignedAnswersMatchKnot(t *testing.T) {
	compareSigned(t, knotSigning, &scenarios.ZoneDNSSEC{Algorithm: dns.ECDSAP256SHA256})
}

// The same with NSEC3 (RFC 5155), with RFC 9276's parameters: no extra
// iterations, no salt. The hashes are the same for both servers, so the
// NSEC3 records must be too.
func TestNSEC3AnswersMatchKnot(t *testing.T) {
	policy := strings.Replace(knotSigning, "nsec3: off", "nsec3: on\n    nsec3-iterations: 0\n    nsec3-salt-length: 0", 1)
	compareSigned(t, policy, &scenarios.ZoneDNSSEC{Algorithm: dns.ECDSAP256SHA256, NSEC3: &scenarios.NSEC3Params{}})
}

// compareSigned serves the fidelity zone signed by Knot (with policy) and
// by dnsfault (with how), and compares their answers to every probe with
// DO.
func compareSigned(t *testing.T, policy string, how *scenarios.ZoneDNSSEC) {
	knotAddr := knotWith(t, "fid.test.", fidelityZone, policy)
	z, err := scenarios.ReadZoneFile(fidelityZone)
	require.NoError(t, err)
	z.DNSSEC = how
	srv := start(t, "version: 1\nname: fidelity-signed\nupstream: none\n", injector.Config{Zones: []scenarios.Zone{z}})

	// Every name and type of the differential test, and DNSKEY and NSEC
	// at a few names, each asked four ways: with DO over TCP (RD clear)
	// and over UDP (RD set, CD set), and without DO over both.
	seen := map[string]bool{}
	var probes []probe
	add := func(p probe) {
		for _, v := range []struct{ do, tcp, rd, cd bool }{{true, true, false, false}, {true, false, true, true}, {false, false, true, false}, {false, true, false, false}} {
			p.edns, p.size = true, 1232
			p.do, p.tcp, p.rd, p.cd = v.do, v.tcp, v.rd, v.cd
			if !seen[p.String()] {
				seen[p.String()] = true
				probes = append(probes, p)
			}
		}
	}
	for _, p := range fidelityProbes() {
		if p.class == dns.ClassINET && p.opcode == 0 {
			add(p)
		}
	}
	for _, n := range []string{"fid.test.", "www.fid.test.", "sub.fid.test.", "nonexistent.fid.test."} {
		for _, qt := range []uint16{dns.TypeDNSKEY, dns.TypeNSEC, dns.TypeNSEC3PARAM} {
			add(probe{name: n, qtype: qt, class: dns.ClassINET})
		}
	}

	allowed := map[string]int{}
	var diffs []string
	for _, p := range probes {
		want, got := signedView(askProbe(t, knotAddr, p), allowed), signedView(askProbe(t, srv.Addr(), p), allowed)
		allowCD(p, &want, got, allowed)
		if strings.Contains(want.header, "tc=true") && strings.Contains(got.header, "tc=true") {
			want.sections, got.sections = [3][]string{}, [3][]string{}
			allowed["truncated"]++
		}
		if d := difference(p, want, got); d != "" {
			diffs = append(diffs, d)
		}
	}
	report(t, "signed ", len(probes), diffs, allowed)
}
