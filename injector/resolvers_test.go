package injector_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// The resolver layer, measured: a real unbound in front of dnsfault, as a
// stub-zone and as a forward-zone, one query per action and modifier
// through it. What it measures is docs/resolvers.md: with
// DNSFAULT_UPDATE_DOCS=1 the test writes it; otherwise it checks that the
// stable columns (what the application sees, whether the injected EDE
// survives, whether unbound caches it) still say what the file says. The
// columns that vary from run to run (upstream queries, time to answer) are
// written as the range seen over the rounds and never compared.

const resolversDoc = "../docs/resolvers.md"

// resolverRounds is how many times each case is measured, for the ranges.
const resolverRounds = 5

// clientTimeout is how long the application waits, as glibc does by
// default (options timeout:5).
const clientTimeout = 5 * time.Second

// injectedEDE marks the EDE dnsfault adds, to tell it from unbound's own.
const injectedEDE = "injected by dnsfault"

// resolverScenario has a rule per case, each on the names below its label.
var resolverScenario = `
version: 1
name: resolvers
upstream: none
zones:
  - origin: res.test.
    records: ["*.res.test. 300 IN A 192.0.2.1"]
rules:
  - {match: {names: ["*.servfail.res.test"]}, action: servfail, ede: {code: 22, text: "` + injectedEDE + `"}}
  - {match: {names: ["*.refused.res.test"]}, action: refused, ede: {code: 22, text: "` + injectedEDE + `"}}
  - {match: {names: ["*.notimp.res.test"]}, action: notimp, ede: {code: 22, text: "` + injectedEDE + `"}}
  - {match: {names: ["*.formerr.res.test"]}, action: formerr, ede: {code: 22, text: "` + injectedEDE + `"}}
  - {match: {names: ["*.nxdomain.res.test"]}, action: nxdomain, ede: {code: 22, text: "` + injectedEDE + `"}}
  - {match: {names: ["*.empty.res.test"]}, action: empty, ede: {code: 22, text: "` + injectedEDE + `"}}
  - {match: {names: ["*.answer.res.test"]}, action: answer, records: ["@ 300 IN A 203.0.113.5"]}
  - {match: {names: ["*.drop.res.test"]}, action: drop}
  - {match: {names: ["*.garbage.res.test"]}, action: garbage}
  - {match: {names: ["*.truncate.res.test"]}, action: truncate}
  - {match: {names: ["*.delay.res.test"]}, action: pass, delay: 1500ms}
  - {match: {names: ["*.ttl.res.test"]}, action: pass, ttl: 5}
  - {match: {names: ["*.half.res.test"]}, action: servfail, probability: 0.5}
`

// resolverCases are the rows of the table: the label, and what the rule
// is, in words.
var resolverCases = []struct{ label, rule string }{
	{"pass", "none (the normal answer)"},
	{"servfail", "`servfail` + `ede: 22`"},
	{"refused", "`refused` + `ede: 22`"},
	{"notimp", "`notimp` + `ede: 22`"},
	{"formerr", "`formerr` + `ede: 22`"},
	{"nxdomain", "`nxdomain` + `ede: 22`"},
	{"empty", "`empty` + `ede: 22`"},
	{"answer", "`answer` 203.0.113.5"},
	{"drop", "`drop`"},
	{"garbage", "`garbage`"},
	{"truncate", "`truncate`"},
	{"delay", "`pass` + `delay: 1500ms`"},
	{"ttl", "`pass` + `ttl: 5`"},
	{"half", "`servfail` + `probability: 0.5` (10 names)"},
}

// unbound starts unbound in the foreground on a free loopback port, with
// res.test. as a stub-zone or a forward-zone pointing at dnsfault.
func unbound(t *testing.T, mode, dnsfault string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(dnsfault)
	zone := fmt.Sprintf("stub-zone:\n  name: \"res.test\"\n  stub-addr: %s@%s\n", host, port)
	if mode == "forward-zone" {
		zone = fmt.Sprintf("forward-zone:\n  name: \"res.test\"\n  forward-addr: %s@%s\n", host, port)
	}
	return startUnbound(t, `  module-config: "iterator"`, zone)
}

// startUnbound starts unbound in the foreground on a free loopback port
// with the test's server options (server, indented) and zones (the
// stub-zone and forward-zone clauses), and returns its address.
func startUnbound(t *testing.T, server, zones string) string {
	t.Helper()
	bin := requireTool(t, "unbound", "unbound")
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		listen := dnstest.FreePort(t)
		conf := fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: "%s/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  do-ip6: no
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  qname-minimisation: no
  ede: yes
  # test. is special-use (RFC 6761): unbound answers it itself unless told.
  local-zone: "test." nodefault
%s
%s`, listen, dir, dir, server, zones)
		file := filepath.Join(dir, "unbound.conf")
		require.NoError(t, os.WriteFile(file, []byte(conf), 0o644))
		addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(listen))
		// Ready when it answers anything (a name it refuses will do).
		ready := new(dns.Msg)
		ready.SetQuestion("ready.invalid.", dns.TypeA)
		up, out := startAnswering(t, exec.Command(bin, "-d", "-c", file), addr, ready, func(*dns.Msg) bool { return true })
		if up {
			return addr
		}
		if attempt >= 3 {
			t.Fatalf("unbound did not come up:\n%s", out)
		}
	}
}

// seen is what one case measured in one round.
type seen struct {
	sees     string // what the application sees
	ede      string // the EDEs the application got
	queries  int    // upstream queries while the client waited
	took     time.Duration
	cached   string
	answered bool
	ttl      int // how long the answer may be cached, by its TTLs; -1: no TTL
	// failedShare is the percentage of names that failed, for a case of
	// several names (a probability).
	failedShare int
}

func TestResolverLayerUnbound(t *testing.T) {
	if testing.Short() {
		t.Skip("measures real timeouts; not in -short")
	}
	var mu sync.Mutex
	counts := map[string]int{} // dnsfault's queries by name
	srv := start(t, resolverScenario, injector.Config{Observe: func(ev *injector.Event) {
		mu.Lock()
		counts[ev.Name]++
		mu.Unlock()
	}})
	count := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[name]
	}

	modes := []string{"stub-zone", "forward-zone"}
	results := map[string][]seen{} // by mode and label
	var resMu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, refServersAtOnce())
	for _, mode := range modes {
		for _, c := range resolverCases {
			for round := range resolverRounds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					slots <- struct{}{}
					defer func() { <-slots }()
					// Each measurement has an unbound of its own: one
					// case's timeouts must not teach another's unbound
					// that dnsfault is down.
					addr := unbound(t, mode, srv.Addr())
					s := measure(addr, fmt.Sprintf("r%d-%s", round, strings.TrimSuffix(mode, "-zone")), c.label, count)
					resMu.Lock()
					results[mode+"/"+c.label] = append(results[mode+"/"+c.label], s)
					resMu.Unlock()
				}()
			}
		}
	}
	wg.Wait()

	doc := resolversTable(modes, results)
	if os.Getenv("DNSFAULT_UPDATE_DOCS") == "1" {
		require.NoError(t, os.WriteFile(resolversDoc, []byte(doc), 0o644))
		t.Logf("wrote %s", resolversDoc)
		return
	}
	committed, err := os.ReadFile(resolversDoc)
	require.NoError(t, err)
	want, got := stableColumns(string(committed)), stableColumns(doc)
	assert.Equal(t, want, got, updateHint(strings.Join(want, "\n"), strings.Join(got, "\n")))
}

// updateHint is what a failed comparison with docs/resolvers.md says. A
// row that timed out here and not in the docs is a loaded machine's, not
// unbound's behaviour: it must not be written into the docs.
func updateHint(want, got string) string {
	for _, line := range strings.Split(got, "\n") {
		if strings.Contains(line, "no answer within") && !strings.Contains(want, line) {
			return "docs/resolvers.md differs, and a query timed out here that does not in the docs: this machine was too loaded to measure; run the test again when it is not (do not write this table into the docs)"
		}
	}
	return "docs/resolvers.md no longer says what unbound does: run DNSFAULT_UPDATE_DOCS=1 go test -run TestResolverLayerUnbound ./injector/ and review the change"
}

// measure asks unbound at addr for the case's names, as an application
// would, and what it saw.
func measure(addr, tag, label string, count func(string) int) seen {
	names := []string{fmt.Sprintf("%s.%s.res.test.", tag, label)}
	if label == "half" {
		names = nil
		for i := range 10 {
			names = append(names, fmt.Sprintf("%s-%d.half.res.test.", tag, i))
		}
	}
	var s seen
	outcomes := map[string]int{}
	failed := 0
	began := time.Now()
	for _, name := range names {
		sees, ede, ttl, ok := resolve(addr, name)
		s.ttl = ttl
		outcomes[sees]++
		if !strings.HasPrefix(sees, "NOERROR") {
			failed++
		}
		s.ede, s.answered = ede, ok
		s.queries += count(name)
	}
	s.took = time.Since(began)
	s.sees = describeOutcomes(outcomes, len(names))
	if len(names) > 1 {
		s.queries = (s.queries + len(names)/2) / len(names)
		s.failedShare = 100 * failed / len(names)
	}
	s.cached = "—"
	if s.answered && len(names) == 1 {
		before := count(names[0])
		resolve(addr, names[0]) // the same question again
		s.cached = "no: asked again"
		if count(names[0]) == before {
			s.cached = "yes"
			switch {
			case s.ttl >= 0:
				s.cached = fmt.Sprintf("yes, for %d s", s.ttl)
			case s.sees == "SERVFAIL":
				s.cached = "yes (a SERVFAIL carries no TTL: 5 s, NORR_TTL in unbound's source)"
			}
		}
	}
	return s
}

// resolve asks unbound once, with EDNS, as an application's stub does.
func resolve(addr, name string) (sees, ede string, ttl int, answered bool) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(1232, false)
	r, _, err := (&dns.Client{Timeout: clientTimeout}).Exchange(m, addr)
	if err != nil {
		return fmt.Sprintf("no answer within %v (the client's timeout)", clientTimeout), "—", -1, false
	}
	ttl = -1
	for _, rr := range r.Answer {
		if ttl < 0 || int(rr.Header().Ttl) < ttl {
			ttl = int(rr.Header().Ttl)
		}
	}
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok && ttl < 0 {
			ttl = int(min(soa.Hdr.Ttl, soa.Minttl))
		}
	}
	switch {
	case r.Rcode != dns.RcodeSuccess:
		sees = dns.RcodeToString[r.Rcode]
	case len(r.Answer) == 0:
		sees = "NOERROR, no records"
	default:
		var addrs []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				addrs = append(addrs, fmt.Sprintf("%s (TTL %d)", a.A, a.Hdr.Ttl))
			}
		}
		sees = "NOERROR, " + strings.Join(addrs, ", ")
	}
	var edes []string
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				if e.ExtraText == injectedEDE {
					edes = append(edes, "kept")
				} else {
					edes = append(edes, fmt.Sprintf("unbound's %d (%s)", e.InfoCode, dns.ExtendedErrorCodeToString[e.InfoCode]))
				}
			}
		}
	}
	if len(edes) == 0 {
		edes = []string{"none"}
	}
	return sees, strings.Join(edes, ", "), ttl, true
}

// describeOutcomes says what a case's names got: the one outcome, or the
// most common first with the shares.
func describeOutcomes(outcomes map[string]int, n int) string {
	if n == 1 {
		for k := range outcomes {
			return k
		}
	}
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return outcomes[keys[i]] > outcomes[keys[j]] || outcomes[keys[i]] == outcomes[keys[j]] && keys[i] < keys[j]
	})
	return "mostly " + keys[0]
}

// resolversTable writes docs/resolvers.md.
func resolversTable(modes []string, results map[string][]seen) string {
	var b strings.Builder
	b.WriteString(`# Through a resolver: what unbound makes of each fault

<!-- Generated by injector/resolvers_test.go (TestResolverLayerUnbound) from
what it measured; CI checks the stable columns against this file. To
regenerate: DNSFAULT_UPDATE_DOCS=1 go test -run TestResolverLayerUnbound ./injector/ -->

Applications rarely ask dnsfault directly: between them and the faulty
authority sits a recursive resolver (CoreDNS in Kubernetes, unbound,
systemd-resolved) that retries, caches and rewrites. This table is what
unbound ` + unboundVersion() + ` (Debian's, ` + "`module-config: iterator`, `ede: yes`" + `) did
in front of dnsfault, with res.test. delegated to it as a stub-zone and as
a forward-zone, one query per case from a client that waits 5 s (glibc's
default), each case with a fresh unbound.

- **The application sees**: the answer the client got.
- **EDE**: whether the Extended DNS Error dnsfault injected reached the
  client ("kept"), or what unbound put instead.
- **Cached**: whether a second query right after was answered from
  unbound's cache (dnsfault did not see it again).
- **Upstream queries** and **time**: per client query, the range over
  ` + fmt.Sprint(resolverRounds) + ` rounds; they vary from run to run and are not checked.

`)
	for _, mode := range modes {
		fmt.Fprintf(&b, "## unbound with a %s\n\n", mode)
		b.WriteString("| rule | the application sees | EDE | cached | upstream queries | time |\n|---|---|---|---|---|---|\n")
		for _, c := range resolverCases {
			rs := results[mode+"/"+c.label]
			first := rs[0]
			minQ, maxQ, minT, maxT := first.queries, first.queries, first.took, first.took
			minF, maxF := first.failedShare, first.failedShare
			for _, r := range rs {
				minQ, maxQ = min(minQ, r.queries), max(maxQ, r.queries)
				minT, maxT = min(minT, r.took), max(maxT, r.took)
				minF, maxF = min(minF, r.failedShare), max(maxF, r.failedShare)
			}
			queries := span(fmt.Sprint(minQ), fmt.Sprint(maxQ))
			if c.label == "half" {
				queries += fmt.Sprintf(" a name; %s%% of names failed", span(fmt.Sprint(minF), fmt.Sprint(maxF)))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", c.rule, first.sees, first.ede, mostCommon(rs, func(s seen) string { return s.cached }),
				queries, span(roundTime(minT), roundTime(maxT)))
		}
		b.WriteString("\n")
	}
	b.WriteString(`## What it means for a test

- Put dnsfault **behind** the resolver your production runs (as here) when
  you want the resolver's retries, caching and rewriting in the test: it is
  what your application will see. REFUSED, NOTIMP, FORMERR and garbage all
  reach it as SERVFAIL, and one client query becomes several upstream.
- Put it **in front** of (instead of) the resolver when you want the exact
  fault: the rcode, the EDE, a timeout of exactly the delay.
- A probability below 1 is diluted by the resolver's retries: a 50%
  SERVFAIL is seen by the application far less often.
- A delay longer than the resolver's first timeout (about 376 ms without
  RTT history) makes it retry; the client may time out first.
- The Extended DNS Error dnsfault injects does not survive unbound 1.17:
  test EDE handling against dnsfault directly.
- Negative answers are cached for the SOA's negative TTL (min(SOA TTL,
  MINIMUM): 60 s for a zone without a SOA of its own); use ` + "`ttl:`" + ` on the
  rule to test shorter or longer negative caching.
`)
	return b.String()
}

// mostCommon is the value of field most rounds saw: whether unbound asked
// again can be misread in one round, when its last retry of the first
// query is counted late (dnsfault counts a query after answering it).
func mostCommon(rs []seen, field func(seen) string) string {
	votes := map[string]int{}
	best := ""
	for _, r := range rs {
		v := field(r)
		votes[v]++
		if votes[v] > votes[best] || votes[v] == votes[best] && v < best {
			best = v
		}
	}
	return best
}

func span(lo, hi string) string {
	if lo == hi {
		return lo
	}
	return lo + "–" + hi
}

func roundTime(d time.Duration) string {
	if d < time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// unboundVersion is the version of the unbound the test ran.
func unboundVersion() string {
	out, err := exec.Command("unbound", "-V").Output()
	if err != nil {
		return ""
	}
	if m := regexp.MustCompile(`Version (\S+)`).FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return ""
}

// stableColumns reads the table rows of the doc: the heading they are
// under, the rule, what the application sees, the EDE and the caching.
func stableColumns(doc string) []string {
	var out []string
	heading := ""
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "## ") {
			heading = line
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 7 || strings.HasPrefix(line, "|---") || strings.Contains(line, "the application sees") {
			continue
		}
		out = append(out, strings.Join([]string{heading, strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3]), strings.TrimSpace(cells[4])}, " | "))
	}
	return out
}

// TestTheUpdateHintIsNotGivenForATimeout: rerunning with
// DNSFAULT_UPDATE_DOCS=1 would write a loaded machine's timeouts into the
// docs; the hint says so instead (issue 28).
func TestTheUpdateHintIsNotGivenForATimeout(t *testing.T) {
	want := "| `servfail` | SERVFAIL |\n| `drop` | no answer within 5s (the client's timeout) |\n"
	timedOut := "| `servfail` | no answer within 5s (the client's timeout) |\n| `drop` | no answer within 5s (the client's timeout) |\n"
	changed := "| `servfail` | NXDOMAIN |\n| `drop` | no answer within 5s (the client's timeout) |\n"
	assert.Contains(t, updateHint(want, timedOut), "too loaded to measure")
	assert.NotContains(t, updateHint(want, timedOut), "DNSFAULT_UPDATE_DOCS=1 go test")
	assert.Contains(t, updateHint(want, changed), "DNSFAULT_UPDATE_DOCS=1 go test")
}
