package injector_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The differential test: one zone file served by Knot DNS and by dnsfault
// (upstream none, no rules), the same queries to both, the answers
// compared section by section. dnsfault stands in for authoritative
// servers behind real resolvers, and a resolver caches and follows what it
// is told (an NXDOMAIN where a referral belongs is cached for the SOA
// minimum), so its answers must be a real authority's.

const fidelityZone = "testdata/fidelity/fid.test.zone"

// allowedDifferences are what may differ, and why. Each is normalised away
// before the comparison, and counted.
var allowedDifferences = map[string]string{
	"name case":        "names are compared in lower case: for the queried name Knot and NSD answer with the query's case (MIXED.case.FID.test.), dnsfault with the zone's (Mixed.Case.fid.test., and lower case for a wildcard's answer); names compare case-insensitively (RFC 4343), and both echo the question as sent, which is what DNS 0x20 checks",
	"truncated":        "when both set TC, what a truncated answer holds is not compared: the client retries over TCP and reads that answer",
	"server version":   "class CH version.bind and version.server: Knot and NSD tell their version, dnsfault refuses (id.server and hostname.bind, the host's name, are compared)",
	"serial":           "in the signed comparison, SOA serials are not compared: Knot adds one when it signs the zone, dnsfault serves the zone's own",
	"CD copied":        "dnsfault copies the query's CD bit into the answer, as RFC 4035 section 3.1.6 (and RFC 6840 section 5.9) requires of an authority; Knot 3.2 and NSD 4.6 both clear it",
	"NSD: NS and glue": "NSD adds the zone's NS records to the authority section of positive answers and their addresses to the additional section (RFC 1034 allows it; Knot and dnsfault answer minimally, and resolvers need neither)",
	"NSD: ANY":         "NSD answers ANY with one RRset as Knot and dnsfault do (RFC 8482), but picks another (the SOA at the apex, where they give the lowest type)",
	"NSD: NOTIMP":      "NSD answers an unknown opcode with NOTIMP without echoing the question or an OPT record; Knot and dnsfault echo both",
	"NSD: EDE 21":      "NSD adds EDE 21 (Not Supported) to its REFUSED for class CH names it does not know; Knot and dnsfault send none",
}

// knot starts knotd serving zoneFile as origin on a free loopback port,
// and returns its address.
func knot(t *testing.T, origin, zoneFile string) string {
	t.Helper()
	return knotWith(t, origin, zoneFile, "")
}

// knotWith is knot with more configuration: policies, and the zone's own
// options (indented for the zone entry).
func knotWith(t *testing.T, origin, zoneFile, extra string) string {
	t.Helper()
	knotd := requireTool(t, "knotd", "knot")
	dir := t.TempDir()
	data, err := os.ReadFile(zoneFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, strings.TrimSuffix(origin, ".")+".zone"), data, 0o644))
	for attempt := 0; ; attempt++ {
		port := dnstest.FreePort(t)
		addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
		conf := fmt.Sprintf(`server:
    rundir: %[1]s
    listen: 127.0.0.1@%[2]d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: %[1]s
control:
    listen: %[1]s/knot.sock
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: %[1]s
    file: "%%s.zone"
    semantic-checks: on
%[4]s
zone:
  - domain: %[3]s
%[5]s`, dir, port, origin, knotPolicies(extra), knotZoneOptions(extra))
		confFile := filepath.Join(dir, "knot.conf")
		require.NoError(t, os.WriteFile(confFile, []byte(conf), 0o644))
		soa := new(dns.Msg)
		soa.SetQuestion(origin, dns.TypeSOA)
		up, out := startAnswering(t, exec.Command(knotd, "-c", confFile), addr, soa, func(r *dns.Msg) bool { return r.Rcode == dns.RcodeSuccess })
		if up {
			return addr
		}
		if attempt >= 3 {
			t.Fatalf("knotd did not come up:\n%s", out)
		}
	}
}

// knotPolicies and knotZoneOptions split knotWith's extra configuration:
// the lines before "zone:" and after it.
func knotPolicies(extra string) string {
	before, _, _ := strings.Cut(extra, "zone:\n")
	return before
}

func knotZoneOptions(extra string) string {
	_, after, _ := strings.Cut(extra, "zone:\n")
	return after
}

// requireTool finds a program, skips naming its Debian package without
// it, and fails under CI=true, where .ci/run installs it.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/usr/bin/"} {
		if path, err := exec.LookPath(dir + name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed, and CI must not skip: apt-get install -y %s", name, pkg)
	}
	t.Skipf("%s is not installed (apt-get install -y %s); skipping", name, pkg)
	return ""
}

// probe is one query of the differential test.
type probe struct {
	name   string
	qtype  uint16
	class  uint16
	tcp    bool
	edns   bool
	size   uint16
	do     bool
	rd     bool
	cd     bool
	opcode int
}

func (p probe) String() string {
	s := fmt.Sprintf("%s %s", p.name, dns.TypeToString[p.qtype])
	if p.class != dns.ClassINET {
		s += " class " + dns.ClassToString[p.class]
	}
	if p.opcode != 0 {
		s += fmt.Sprintf(" opcode %d", p.opcode)
	}
	if p.tcp {
		s += " tcp"
	}
	if p.edns {
		s += fmt.Sprintf(" edns %d", p.size)
		if p.do {
			s += " +do"
		}
	}
	if !p.rd {
		s += " +nord"
	}
	if p.cd {
		s += " +cd"
	}
	return s
}

// fidelityProbes are the names and types of the zone, each asked several
// ways.
func fidelityProbes() []probe {
	names := []string{
		"fid.test.", "www.fid.test.", "api.fid.test.", "lb.fid.test.", "out.fid.test.", "chain-out.fid.test.",
		"x.apps.fid.test.", "deep.x.apps.fid.test.", "apps.fid.test.", "y.wild.fid.test.",
		"a.b.c.ent.fid.test.", "b.c.ent.fid.test.", "c.ent.fid.test.", "_sip._tcp.fid.test.", "sip.fid.test.",
		"mixed.case.fid.test.", "MIXED.case.FID.test.", "big.fid.test.", "sub.fid.test.", "host.sub.fid.test.",
		"ns1.sub.fid.test.", "dn.fid.test.", "x.dn.fid.test.", "y.x.dn.fid.test.", "nope.x.dn.fid.test.",
		"nonexistent.fid.test.", "a.nonexistent.fid.test.", "mail.fid.test.", "ns1.fid.test.", "x.target.fid.test.",
		"elsewhere.example.",
	}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS, dns.TypeSOA, dns.TypeCNAME,
		dns.TypeDS, dns.TypeSRV, dns.TypeANY, dns.TypeDNAME}
	var out []probe
	for _, n := range names {
		for _, qt := range types {
			base := probe{name: n, qtype: qt, class: dns.ClassINET, edns: true, size: 1232, rd: true}
			plain := base
			plain.edns, plain.rd = false, false
			out = append(out, base, plain)
			switch qt {
			case dns.TypeA, dns.TypeTXT, dns.TypeANY, dns.TypeNS:
				tcp, do, small, cd := base, base, base, base
				tcp.tcp = true
				do.do = true
				small.size = 512
				cd.cd, cd.do = true, true
				out = append(out, tcp, do, small, cd)
			}
		}
	}
	for _, n := range []string{"version.bind.", "version.server.", "id.server.", "hostname.bind.", "fid.test."} {
		out = append(out, probe{name: n, qtype: dns.TypeTXT, class: dns.ClassCHAOS, edns: true, size: 1232})
	}
	for _, n := range []string{"www.fid.test.", "elsewhere.example."} {
		out = append(out, probe{name: n, qtype: dns.TypeA, class: dns.ClassINET, edns: true, size: 1232, opcode: 15},
			probe{name: n, qtype: dns.TypeA, class: dns.ClassINET, opcode: 15})
	}
	return out
}

func askProbe(t *testing.T, addr string, p probe) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(p.name, p.qtype)
	m.Question[0].Qclass = p.class
	m.RecursionDesired = p.rd
	m.CheckingDisabled = p.cd
	m.Opcode = p.opcode
	if p.edns {
		m.SetEdns0(p.size, p.do)
	}
	c := &dns.Client{Timeout: dnstest.Patience(2 * time.Second), UDPSize: 65535}
	if p.tcp {
		c.Net = "tcp"
	}
	var lastErr error
	for range 3 { // a busy machine may lose a datagram
		r, _, err := c.Exchange(m, addr)
		if err == nil {
			return r
		}
		lastErr = err
	}
	t.Fatalf("%s to %s: %v", p, addr, lastErr)
	return nil
}

// view is an answer reduced to what the comparison reads.
type view struct {
	header   string
	sections [3][]string // names in lower case
	raw      [3][]string // as sent
	edns     string
}

func viewOf(m *dns.Msg, allowed map[string]int) view {
	v := view{header: fmt.Sprintf("%s aa=%t tc=%t rd=%t ra=%t ad=%t cd=%t qd=%d", dns.RcodeToString[m.Rcode], m.Authoritative, m.Truncated, m.RecursionDesired, m.RecursionAvailable, m.AuthenticatedData, m.CheckingDisabled, len(m.Question))}
	if len(m.Question) == 1 {
		v.header += " " + m.Question[0].String()
	}
	for i, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			text := rr.String()
			v.raw[i] = append(v.raw[i], text)
			if t := rr.Header().Rrtype; t != dns.TypeTXT && t != dns.TypeHINFO {
				text = strings.ToLower(text)
			}
			v.sections[i] = append(v.sections[i], text)
		}
		sort.Strings(v.sections[i])
		sort.Strings(v.raw[i])
	}
	if opt := m.IsEdns0(); opt != nil {
		v.edns = fmt.Sprintf("edns v%d do=%t size=%d", opt.Version(), opt.Do(), opt.UDPSize())
		for _, o := range opt.Option {
			v.edns += fmt.Sprintf(" option %d", o.Option())
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				v.edns += fmt.Sprintf(" ede %d", e.InfoCode)
			}
		}
	}
	return v
}

func TestAuthoritativeAnswersMatchKnot(t *testing.T) {
	compareUnsigned(t, "Knot DNS", knot(t, "fid.test.", fidelityZone), nil)
}

// compareUnsigned asks the reference server at refAddr (ref) and dnsfault,
// both serving the fidelity zone, every probe, and reports what differs
// beyond the allowed differences (allow adds the reference's own).
func compareUnsigned(t *testing.T, ref, refAddr string, allow func(p probe, want *view, got view, allowed map[string]int)) {
	t.Helper()
	z, err := scenarios.ReadZoneFile(fidelityZone)
	require.NoError(t, err)
	srv := start(t, "version: 1\nname: fidelity\nupstream: none\n", injector.Config{Zones: []scenarios.Zone{z}})

	allowed := map[string]int{}
	var diffs []string
	probes := fidelityProbes()
	for _, p := range probes {
		want, got := viewOf(askProbe(t, refAddr, p), allowed), viewOf(askProbe(t, srv.Addr(), p), allowed)
		if p.class == dns.ClassCHAOS && (p.name == "version.bind." || p.name == "version.server.") && strings.HasPrefix(got.header, "REFUSED ") {
			allowed["server version"]++
			continue
		}
		allowCD(p, &want, got, allowed)
		if allow != nil {
			allow(p, &want, got, allowed)
		}
		if strings.Contains(want.header, "tc=true") && strings.Contains(got.header, "tc=true") {
			want.sections, got.sections = [3][]string{}, [3][]string{}
			allowed["truncated"]++
		}
		if fmt.Sprint(want.sections) == fmt.Sprint(got.sections) && fmt.Sprint(want.raw) != fmt.Sprint(got.raw) {
			allowed["name case"]++
		}
		if d := difference(p, want, got); d != "" {
			diffs = append(diffs, d)
		}
	}
	reportAgainst(t, ref, "", len(probes), diffs, allowed)
}

// allowCD takes Knot's cleared CD bit as set, when the probe set it and
// dnsfault copied it (see allowedDifferences).
func allowCD(p probe, want *view, got view, allowed map[string]int) {
	if p.cd && strings.Contains(want.header, " cd=false ") && strings.Contains(got.header, " cd=true ") {
		want.header = strings.Replace(want.header, " cd=false ", " cd=true ", 1)
		allowed["CD copied"]++
	}
}

// difference says how got, dnsfault's answer to p, differs from want,
// the reference server's (ref: Knot or NSD); "" when it does not.
func difference(p probe, want, got view) string {
	var d []string
	if want.header != got.header {
		d = append(d, fmt.Sprintf("  header: ref      %s\n          dnsfault %s", want.header, got.header))
	}
	for i, name := range []string{"answer", "authority", "additional"} {
		if strings.Join(want.sections[i], "\n") != strings.Join(got.sections[i], "\n") {
			d = append(d, fmt.Sprintf("  %s: ref\n    %s\n  dnsfault\n    %s", name, strings.Join(want.sections[i], "\n    "), strings.Join(got.sections[i], "\n    ")))
		}
	}
	if want.edns != got.edns {
		d = append(d, fmt.Sprintf("  edns: ref %q, dnsfault %q", want.edns, got.edns))
	}
	if len(d) == 0 {
		return ""
	}
	return p.String() + "\n" + strings.Join(d, "\n")
}

// report logs how many queries were compared and each allowed
// difference, and fails the test on the others (the first 40, unless
// DNSFAULT_FIDELITY_ALL is set). kind is "" or "signed ".
func report(t *testing.T, kind string, probes int, diffs []string, allowed map[string]int) {
	t.Helper()
	reportAgainst(t, "Knot DNS", kind, probes, diffs, allowed)
}

// reportAgainst is report for the reference server ref.
func reportAgainst(t *testing.T, ref, kind string, probes int, diffs []string, allowed map[string]int) {
	t.Helper()
	t.Logf("%d %squeries compared with %s; %d differ", probes, kind, ref, len(diffs))
	for _, k := range sortedKeys(allowed) {
		t.Logf("allowed: %s, %d times: %s", k, allowed[k], allowedDifferences[k])
	}
	if len(diffs) > 0 {
		shown := diffs
		if len(shown) > 40 && os.Getenv("DNSFAULT_FIDELITY_ALL") == "" {
			shown = shown[:40]
		}
		t.Errorf("%d of %d %sanswers differ from %s's:\n%s", len(diffs), probes, kind, ref, strings.Join(shown, "\n"))
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
