package injector_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// signedZones is docs/dnssec.md's example, less the zones that need key
// files or are a fault (costly.test.): a parent, a child inside it with
// neither SOA nor NS given, NSEC3 zones with and without a salt.
const signedZones = `version: 1
upstream: none
zones:
  - origin: example.test.
    dnssec: true
    records:
      - "@ 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60"
      - "@ 300 IN NS ns.example.test."
      - "ns 300 IN A 192.0.2.53"
      - "www 300 IN A 192.0.2.1"
  - origin: child.example.test.
    dnssec: {algorithm: ED25519}
    records: ["api 300 IN A 192.0.2.7"]
  - origin: hashed.test.
    dnssec: {nsec3: true}
    records: ["www 300 IN A 192.0.2.1", "*.apps 300 IN A 192.0.2.2"]
  - origin: old.test.
    dnssec: {nsec3: {iterations: 10, salt: AABBCCDD}}
    records: ["www 300 IN A 192.0.2.1"]
`

// TestTransfersOfSignedZonesAreCleanZones: kdig AXFR of each signed zone
// gives SOA first and last, and kzonecheck finds nothing wrong with it:
// NS at the apex and at a child's cut, NSEC and NSEC3 bitmaps that match,
// valid signatures (issue 26 item 4).
func TestTransfersOfSignedZonesAreCleanZones(t *testing.T) {
	kdig := requireTool(t, "kdig", "knot-dnsutils")
	kzonecheck := requireTool(t, "kzonecheck", "knot-dnssecutils")
	slack, err := scenarios.Open("slack-dnssec-2021-signed", scenarios.Options{})
	require.NoError(t, err)
	for _, c := range []struct {
		sc    *scenarios.Scenario
		zones []string
	}{
		{parse(t, signedZones), []string{"example.test.", "child.example.test.", "hashed.test.", "old.test."}},
		{slack, []string{"slack.com."}},
	} {
		srv := dnsfaulttest.Serve(t, c.sc, injector.Config{Upstream: []string{"none"}})
		host, port, _ := net.SplitHostPort(srv.Addr())
		for _, origin := range c.zones {
			ctx, cancel := context.WithTimeout(context.Background(), clientTimeout*4)
			out, err := exec.CommandContext(ctx, kdig, "@"+host, "-p", port, "+tcp", "+nocomments", "+nostats", "+noheader", "AXFR", origin).CombinedOutput()
			cancel()
			require.NoError(t, err, "%s", out)
			var records []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line != "" && !strings.HasPrefix(line, ";") {
					records = append(records, line)
				}
			}
			require.GreaterOrEqual(t, len(records), 3, "%s:\n%s", origin, out)
			assert.Contains(t, strings.Fields(records[0]), "SOA", "%s: SOA first", origin)
			assert.Equal(t, records[0], records[len(records)-1], "%s: SOA last", origin)

			file := filepath.Join(t.TempDir(), strings.TrimSuffix(origin, ".")+".zone")
			require.NoError(t, os.WriteFile(file, []byte(strings.Join(records[:len(records)-1], "\n")+"\n"), 0o644))
			check, err := exec.Command(kzonecheck, "-v", "-o", origin, "-d", "on", file).CombinedOutput()
			assert.NoError(t, err, "kzonecheck %s:\n%s", origin, check)
			assert.Equal(t, "No semantic error found", strings.TrimSpace(string(check)), "kzonecheck %s", origin)
			t.Logf("%s: %d records, kzonecheck: %s", origin, len(records), strings.TrimSpace(string(check)))
		}
	}
}

// TestTransfersAsKnotAnswersThem: no transfer over UDP (NOTIMP), NOTAUTH
// for a name that is no zone's apex, IXFR answered as AXFR, and a child
// zone's NS at its apex as at its parent's cut.
func TestTransfersAsKnotAnswersThem(t *testing.T) {
	srv := start(t, signedZones, injector.Config{})
	for _, c := range []struct {
		network, name string
		qtype         uint16
		rcode         int
	}{
		{"udp", "example.test.", dns.TypeAXFR, dns.RcodeNotImplemented},
		{"tcp", "www.example.test.", dns.TypeAXFR, dns.RcodeNotAuth},
		{"tcp", "elsewhere.test.", dns.TypeAXFR, dns.RcodeNotAuth},
	} {
		resp := ask(t, srv, c.network, c.name, c.qtype)
		assert.Equal(t, dns.RcodeToString[c.rcode], dns.RcodeToString[resp.Rcode], "%s %s %s", c.network, c.name, dns.TypeToString[c.qtype])
	}
	for _, qtype := range []uint16{dns.TypeAXFR, dns.TypeIXFR} {
		q := new(dns.Msg)
		q.SetQuestion("old.test.", qtype)
		if qtype == dns.TypeIXFR {
			q.SetIxfr("old.test.", 0, "ns.old.test.", "h.old.test.")
		}
		env, err := new(dns.Transfer).In(q, srv.Addr())
		require.NoError(t, err)
		n := 0
		for e := range env {
			require.NoError(t, e.Error, dns.TypeToString[qtype])
			n += len(e.RR)
		}
		assert.Greater(t, n, 4, "%s: the whole zone", dns.TypeToString[qtype])
	}
	ns := ask(t, srv, "udp", "child.example.test.", dns.TypeNS)
	assert.Equal(t, []string{"child.example.test.\t60\tIN\tNS\tns.dnsfault.invalid."}, rrs(ns.Answer), "the child's NS, made from its SOA")
	assert.True(t, ns.Authoritative)
}
