package injector_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// The differential test once more with a second reference, NSD, so that
// one server's quirks are not taken for the standard: the same zone and
// probes as TestAuthoritativeAnswersMatchKnot.

// nsd starts NSD serving zoneFile as origin on a free loopback port, and
// returns its address.
func nsd(t *testing.T, origin, zoneFile string) string {
	t.Helper()
	bin := requireTool(t, "nsd", "nsd")
	dir := t.TempDir()
	data, err := os.ReadFile(zoneFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zone"), data, 0o644))
	for attempt := 0; ; attempt++ {
		port := dnstest.FreePort(t)
		addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
		conf := fmt.Sprintf(`server:
  ip-address: 127.0.0.1@%[2]d
  port: %[2]d
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: %[1]q
  database: ""
  zonelistfile: "%[1]s/zone.list"
  xfrdfile: "%[1]s/xfrd.state"
  xfrdir: %[1]q
  pidfile: "%[1]s/nsd.pid"
  logfile: "%[1]s/nsd.log"
  verbosity: 0
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: %[3]q
  zonefile: zone
`, dir, port, origin)
		confFile := filepath.Join(dir, "nsd.conf")
		require.NoError(t, os.WriteFile(confFile, []byte(conf), 0o644))
		soa := new(dns.Msg)
		soa.SetQuestion(origin, dns.TypeSOA)
		up, out := startAnswering(t, exec.Command(bin, "-d", "-c", confFile), addr, soa, func(r *dns.Msg) bool { return r.Rcode == dns.RcodeSuccess })
		if up {
			return addr
		}
		if attempt >= 3 {
			log, _ := os.ReadFile(filepath.Join(dir, "nsd.log"))
			t.Fatalf("nsd did not come up:\n%s\n%s", out, log)
		}
	}
}

func TestAuthoritativeAnswersMatchNSD(t *testing.T) {
	compareUnsigned(t, "NSD", nsd(t, "fid.test.", fidelityZone), allowNSD)
}

// allowNSD takes away what NSD answers differently by design (see
// allowedDifferences), counting each.
func allowNSD(p probe, want *view, got view, allowed map[string]int) {
	// The apex NS in the authority section of a positive answer, and the
	// addresses of their targets in the additional section.
	if len(got.sections[1]) == 0 && len(want.sections[1]) > 0 && !strings.HasPrefix(want.header, "NXDOMAIN") {
		var ns, others []string
		for _, rr := range want.sections[1] {
			if strings.HasPrefix(rr, "fid.test.\t") && strings.Contains(rr, "\tns\t") {
				ns = append(ns, rr)
			} else {
				others = append(others, rr)
			}
		}
		if len(ns) > 0 && len(others) == 0 {
			want.sections[1], want.raw[1] = nil, nil
			var extra []string
			for _, rr := range want.sections[2] {
				if !strings.HasPrefix(rr, "ns1.fid.test.\t") && !strings.HasPrefix(rr, "ns2.fid.test.\t") {
					extra = append(extra, rr)
				}
			}
			want.sections[2], want.raw[2] = extra, got.raw[2]
			allowed["NSD: NS and glue"]++
		}
	}
	if p.qtype == dns.TypeANY && len(want.sections[0]) > 0 && len(got.sections[0]) > 0 && want.header == got.header {
		if fmt.Sprint(want.sections[0]) != fmt.Sprint(got.sections[0]) {
			want.sections[0], want.raw[0] = got.sections[0], got.raw[0]
			allowed["NSD: ANY"]++
		}
	}
	if p.opcode != 0 && strings.HasPrefix(want.header, "NOTIMP ") && strings.HasPrefix(got.header, "NOTIMP ") {
		want.header, want.edns = got.header, got.edns
		allowed["NSD: NOTIMP"]++
	}
	if p.class == dns.ClassCHAOS && strings.HasSuffix(want.edns, " option 15 ede 21") && want.header == got.header {
		want.edns = strings.TrimSuffix(want.edns, " option 15 ede 21")
		allowed["NSD: EDE 21"]++
	}
}
