// Command bench is `make bench`: it runs dnsperf against dnsfault in
// several configurations, against a bare miekg/dns server answering the
// same names (the library's limit), and against dnsmasq and unbound, one
// after another on loopback, and writes the table to BENCHMARKS.md.
//
// Every server runs pinned to core 0 (Go with GOMAXPROCS=1) and dnsperf to
// core 1, at a bounded rate for a fixed time; throughput is the median of
// several runs, latency is measured apart at a fixed, moderate rate.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

var (
	seconds     = flag.Int("seconds", 8, "length of each throughput run")
	runs        = flag.Int("runs", 3, "throughput runs per configuration (the median is kept)")
	rate        = flag.Int("rate", 200000, "the bound on dnsperf's rate in throughput runs")
	latencyRate = flag.Int("latency-rate", 20000, "the fixed rate of the latency runs")
	out         = flag.String("out", "BENCHMARKS.md", "where to write the table")
	profiles    = flag.String("profile", "", "write a CPU profile of each dnsfault configuration into this `DIR`ectory")
	only        = flag.String("only", "", "run only these parts, comma-separated: a, b, ..., f2, delay, held, tls, dnssec (default all)")
	before      = flag.String("before", "", "also run each dnsfault configuration with this earlier `BINARY`, in the same rounds, and compare")
)

const names = 10000

type config struct {
	name, what string
	start      func(dir string, port int, refAddr string) (*exec.Cmd, error)
	// upstreamCore, for forwarding, is the core the reference server runs
	// on behind dnsfault: "0" shares dnsfault's core, "1" dnsperf's.
	upstreamCore string
}

type result struct {
	config
	qps, meanMs, p99Ms float64
	rounds             []float64 // each round's q/s, the median of which is qps
	command            string
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	dir, err := os.MkdirTemp("", "dnsfault-bench")
	must(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "dnsfault")
	ref := filepath.Join(dir, "refserver")
	run("go", "build", "-o", bin, "./cmd/dnsfault")
	run("go", "build", "-o", ref, "./bench/refserver")
	must(writeInputs(dir))

	dnsfaultOn := func(host, bin string, args ...string) func(string, int, string) (*exec.Cmd, error) {
		return func(dir string, port int, refAddr string) (*exec.Cmd, error) {
			a := append([]string{"serve", "--listen", net.JoinHostPort(host, fmt.Sprint(port)), "--control", "127.0.0.1:0", "--rate-limit", "0"}, args...)
			if *profiles != "" {
				a = append(a, "--cpu-profile", filepath.Join(*profiles, fmt.Sprintf("dnsfault-%d.pprof", port)))
			}
			for i := range a {
				a[i] = strings.ReplaceAll(strings.ReplaceAll(a[i], "DIR", dir), "REF", refAddr)
			}
			return pinned(bin, a...), nil
		}
	}
	dnsfaultBin := func(bin string, args ...string) func(string, int, string) (*exec.Cmd, error) {
		return dnsfaultOn("127.0.0.1", bin, args...)
	}
	dnsfault := func(args ...string) func(string, int, string) (*exec.Cmd, error) { return dnsfaultBin(bin, args...) }
	configs := []config{
		{"a", "bare miekg/dns server, names from a map (the reference)", func(dir string, port int, _ string) (*exec.Cmd, error) {
			return pinned(ref, "-listen", fmt.Sprintf("127.0.0.1:%d", port)), nil
		}, ""},
		{"b", "dnsfault, names from a zone, no rules", dnsfault("-s", "DIR/zone.yaml"), ""},
		// dnsperf still asks 127.0.0.1: the socket is bound to every
		// address, as in a container (--allow, since that is no loopback).
		{"b0", "dnsfault, names from a zone, no rules, on 0.0.0.0 (every address)", dnsfaultOn("0.0.0.0", bin, "-s", "DIR/zone.yaml", "--allow", "127.0.0.0/8"), ""},
		{"bt", "dnsfault, names from a zone, no rules, every query and answer to --dnstap file:", dnsfault("-s", "DIR/zone.yaml", "--dnstap", "file:DIR/bench.dnstap"), ""},
		{"c", "dnsfault, 10,000 rules none of which matches", dnsfault("-s", "DIR/rules.yaml"), ""},
		{"d", "dnsfault, every query taken by a wildcard `answer` rule", dnsfault("-s", "DIR/wildcard.yaml"), ""},
		{"e", "dnsfault forwarding everything to (a), (a) on dnsfault's core", dnsfault("--upstream", "REF", "-s", "DIR/forward.yaml"), "0"},
		{"e1", "dnsfault forwarding everything to (a), (a) on dnsperf's core", dnsfault("--upstream", "REF", "-s", "DIR/forward.yaml"), "1"},
		{"f1", "dnsmasq, names from a hosts file", func(dir string, port int, _ string) (*exec.Cmd, error) {
			return dnsmasq(port, "--addn-hosts="+filepath.Join(dir, "hosts"), "--cache-size=10000")
		}, ""},
		{"f3", "dnsmasq forwarding everything to (a), no cache, (a) on its core", dnsmasqForwarding, "0"},
		{"f4", "dnsmasq forwarding everything to (a), no cache, (a) on dnsperf's core", dnsmasqForwarding, "1"},
		{"f2", "unbound, names as local-data", func(dir string, port int, _ string) (*exec.Cmd, error) {
			conf := filepath.Join(dir, "unbound.conf")
			must(os.WriteFile(conf, []byte(unboundConf(dir, port)), 0o644))
			return pinnedTool("unbound", "-d", "-c", conf)
		}, ""},
	}

	if *before != "" {
		// The earlier binary's runs sit beside each dnsfault
		// configuration, in the same rounds: a before/after ratio from one
		// run, whatever the machine's drift.
		args := map[string][]string{"b": {"-s", "DIR/zone.yaml"}, "c": {"-s", "DIR/rules.yaml"}, "d": {"-s", "DIR/wildcard.yaml"},
			"e": {"--upstream", "REF", "-s", "DIR/forward.yaml"}, "e1": {"--upstream", "REF", "-s", "DIR/forward.yaml"}}
		var with []config
		for _, c := range configs {
			with = append(with, c)
			if a, ok := args[c.name]; ok {
				with = append(with, config{c.name + "-before", c.what + ", the earlier binary", dnsfaultBin(*before, a...), c.upstreamCore})
			}
		}
		configs = with
	}

	refPort := freePort()
	refAddr := fmt.Sprintf("127.0.0.1:%d", refPort)
	// Rounds: every configuration runs once per round, so a drift of the
	// machine over the minutes of a run weighs on all of them alike.
	var chosen []config
	known := []string{"delay", "held", "tls", "dnssec"}
	for _, c := range configs {
		known = append(known, c.name)
		if selected(strings.TrimSuffix(c.name, "-before")) {
			chosen = append(chosen, c)
		}
	}
	for _, part := range strings.Split(*only, ",") {
		if *only != "" && !slices.Contains(known, part) {
			log.Fatalf("-only: no part %q; the parts are %s", part, strings.Join(known, ", "))
		}
	}
	qps, means, p99s := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	var results []result
	for round := 1; round <= *runs; round++ {
		for _, c := range chosen {
			addr, stopAll, err := launch(c, dir, refAddr, ref)
			if err != nil {
				log.Printf("%s: skipped: %v", c.name, err)
				continue
			}
			q, command := throughput(addr, dir)
			mean, p99 := latency(addr, dir)
			qps[c.name] = append(qps[c.name], q)
			means[c.name] = append(means[c.name], mean)
			p99s[c.name] = append(p99s[c.name], p99)
			log.Printf("round %d (%s) %-60s %8.0f q/s  mean %.3f ms  p99 %.3f ms", round, c.name, c.what, q, mean, p99)
			if round == *runs {
				results = append(results, result{config: c, qps: median(qps[c.name]), rounds: qps[c.name],
					meanMs: median(means[c.name]), p99Ms: median(p99s[c.name]), command: command})
			}
			stopAll()
		}
	}
	for _, r := range results {
		log.Printf("(%s) %-60s %8.0f q/s  mean %.3f ms  p99 %.3f ms", r.name, r.what, r.qps, r.meanMs, r.p99Ms)
	}
	report := table(results)
	if selected("delay") {
		report += delayAccuracy(bin, dir)
	}
	if selected("held") {
		report += heldQueries(bin, dir)
	}
	if selected("tls") {
		report += encryptedBench(bin, dir)
	}
	if selected("dnssec") {
		report += dnssecBench(bin, dir)
	}
	report += howItGetsThere
	must(os.WriteFile(*out, []byte(report), 0o644))
	log.Printf("wrote %s", *out)
}

// dnsmasq runs dnsmasq pinned in the foreground on 127.0.0.1:port, with
// no resolv.conf, no /etc/hosts and no log, plus args.
func dnsmasq(port int, args ...string) (*exec.Cmd, error) {
	return pinnedTool("dnsmasq", append([]string{"-k", "-R", "-h", "-u", "root", "--pid-file=", "--bind-interfaces",
		"--listen-address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--log-facility=/dev/null"}, args...)...)
}

// dnsmasqForwarding runs dnsmasq as a forwarder to refAddr with no cache:
// a peer for (e), paying the same two hops per query.
func dnsmasqForwarding(_ string, port int, refAddr string) (*exec.Cmd, error) {
	host, refPort, _ := net.SplitHostPort(refAddr)
	return dnsmasq(port, "--cache-size=0", "--server="+host+"#"+refPort)
}

// stop ends a server the way a user would, so it can write its profile,
// and kills it if it does not end in time.
func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	cmd.Wait()
	done.Stop()
}

// selected reports whether -only lets part run.
func selected(part string) bool {
	return *only == "" || slices.Contains(strings.Split(*only, ","), part)
}

// startDnsfault runs dnsfault pinned with a scenario, waits until its
// control API answers, and returns its DNS and control addresses.
func startDnsfault(bin, scenario string, extra ...string) (*exec.Cmd, string, string) {
	port, ctl := freePort(), freePort()
	addr, ctlAddr := fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", ctl)
	cmd := pinned(bin, append([]string{"serve", "-s", scenario, "--listen", addr, "--control", ctlAddr, "--rate-limit", "0"}, extra...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) { // polling a process we started
		if resp, err := http.Get("http://" + ctlAddr + "/metrics"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			log.Fatalf("dnsfault did not start: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			log.Fatalf("dnsfault's control API never answered: %s", stderr.String())
		}
	}
	return cmd, addr, ctlAddr
}

// delayAccuracy measures answers delayed by 50 ms at 2,000 q/s.
func delayAccuracy(bin, dir string) string {
	scenario := filepath.Join(dir, "delay.yaml")
	must(os.WriteFile(scenario, []byte("version: 1\nupstream: none\nzones: [{origin: bench.test., file: bench.test.zone}]\nrules: [{match: {names: [\"*.bench.test\"]}, action: pass, delay: 50ms}]\n"), 0o644))
	cmd, addr, _ := startDnsfault(bin, scenario)
	defer cmd.Process.Kill()
	waitReadyFor(addr, 2*time.Second)
	host, port, _ := net.SplitHostPort(addr)
	o, err := exec.Command("taskset", "-c", "1", "dnsperf", "-s", host, "-p", port, "-d", filepath.Join(dir, "queries"), "-l", "10", "-Q", "2000", "-q", "2000", "-t", "2", "-v").CombinedOutput()
	must(err)
	ls := latencyList(string(o))
	p := func(q float64) float64 { return ls[int(q*float64(len(ls)-1))] }
	text := fmt.Sprintf("\n## Delay accuracy\n\n`delay: 50ms` on every name, dnsperf at a fixed 2,000 q/s for 10 s (%d answers):\n\n", len(ls))
	text += "| p50 | p90 | p99 | p99.9 | max | p50 - 50 ms | p99 - 50 ms |\n|---|---|---|---|---|---|---|\n"
	text += fmt.Sprintf("| %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %+.2f ms | %+.2f ms |\n", p(0.5), p(0.9), p(0.99), p(0.999), ls[len(ls)-1], p(0.5)-50, p(0.99)-50)
	log.Printf("delay 50ms at 2000 q/s: p50 %.2f ms, p99 %.2f ms", p(0.5), p(0.99))
	return text
}

// heldQueries holds 50,000 queries with a 10 s delay and reads the
// server's memory and goroutines before, while they are held, and after.
func heldQueries(bin, dir string) string {
	scenario := filepath.Join(dir, "held.yaml")
	must(os.WriteFile(scenario, []byte("version: 1\nupstream: none\nzones: [{origin: bench.test., file: bench.test.zone}]\nrules: [{match: {names: [\"*.bench.test\"]}, action: pass, delay: 10s}]\n"), 0o644))
	cmd, addr, ctl := startDnsfault(bin, scenario)
	defer cmd.Process.Kill()
	idle := processFigures(ctl)
	// 100 sockets send 500 queries each, paced over about 2 s, and read
	// their answers once the delay is over.
	const sockets, each = 100, 500
	var conns []net.Conn
	for i := 0; i < sockets; i++ {
		c, err := net.Dial("udp", addr)
		must(err)
		conns = append(conns, c)
	}
	q := new(dns.Msg)
	for i := 0; i < each; i++ {
		for j, c := range conns {
			q.SetQuestion(fmt.Sprintf("name%d.bench.test.", (i*sockets+j)%names), dns.TypeA)
			q.Id = uint16(i)
			wire, _ := q.Pack()
			c.Write(wire)
		}
		time.Sleep(4 * time.Millisecond) // pacing: 25,000 q/s
	}
	var held procFigures
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if held = processFigures(ctl); held.held >= sockets*each {
			break
		}
	}
	answered := make(chan int, sockets)
	for _, c := range conns {
		go func(c net.Conn) {
			n, buf := 0, make([]byte, 512)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for n < each {
				if _, err := c.Read(buf); err != nil {
					break
				}
				n++
			}
			c.Close()
			answered <- n
		}(c)
	}
	total := 0
	for range conns {
		total += <-answered
	}
	time.Sleep(2 * time.Second) // let the runtime settle after the answers
	after := processFigures(ctl)
	time.Sleep(28 * time.Second) // the runtime hands freed memory back to the system gradually
	later := processFigures(ctl)
	log.Printf("held: %d of %d answered", total, sockets*each)
	text := fmt.Sprintf("\n## 50,000 held queries\n\nA 10 s delay on every name; 100 sockets send 500 queries each, paced at 25,000 q/s, so all 50,000 are held at once; %d were answered when the delay ended.\n\n", total)
	text += "| | held | goroutines | RSS |\n|---|---|---|---|\n"
	for _, row := range []struct {
		when string
		f    procFigures
	}{{"idle, before", idle}, {"while held", held}, {"2 s after all were answered", after}, {"30 s after", later}} {
		text += fmt.Sprintf("| %s | %.0f | %.0f | %.1f MiB |\n", row.when, row.f.held, row.f.goroutines, row.f.rss/(1<<20))
	}
	log.Printf("50,000 held: RSS %.1f MiB while held, %.1f MiB after; goroutines %.0f -> %.0f -> %.0f", held.rss/(1<<20), after.rss/(1<<20), idle.goroutines, held.goroutines, after.goroutines)
	return text
}

type procFigures struct{ held, goroutines, rss float64 }

// processFigures reads dnsfault's /metrics and status.
func processFigures(ctl string) procFigures {
	resp, err := http.Get("http://" + ctl + "/metrics")
	must(err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	must(err)
	metric := func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+]+)`).FindStringSubmatch(string(body))
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	return procFigures{held: metric("dnsfault_queries_in_flight"), goroutines: metric("go_goroutines"), rss: metric("process_resident_memory_bytes")}
}

// pinned runs a Go server on core 0 with one P, as the notes prescribe.
func pinned(bin string, args ...string) *exec.Cmd { return pinnedOn("0", bin, args...) }

// pinnedOn runs a Go program on one core.
func pinnedOn(core, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command("taskset", append([]string{"-c", core, bin}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	return cmd
}

func pinnedTool(tool string, args ...string) (*exec.Cmd, error) {
	path, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("%s not installed", tool)
	}
	return exec.Command("taskset", append([]string{"-c", "0", path}, args...)...), nil
}

// launch starts c's server (and the upstream behind it) and returns its
// address and how to stop them.
func launch(c config, dir, refAddr, ref string) (string, func(), error) {
	var servers []*exec.Cmd
	stopAll := func() {
		for _, s := range servers {
			stop(s)
		}
	}
	if c.upstreamCore != "" { // forwarding needs the reference behind it
		refCmd := pinnedOn(c.upstreamCore, ref, "-listen", refAddr)
		must(refCmd.Start())
		servers = append(servers, refCmd)
		waitReady(refAddr)
	}
	port := freePort()
	cmd, err := c.start(dir, port, refAddr)
	if err != nil {
		stopAll()
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = nil, nil
	must(cmd.Start())
	servers = append(servers, cmd)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitReady(addr)
	return addr, stopAll, nil
}

// dnsperf runs dnsperf on core 1 against addr and returns its output and
// command line.
func dnsperf(addr, dir string, extra ...string) (string, string) {
	host, port, _ := net.SplitHostPort(addr)
	args := append([]string{"-c", "1", "dnsperf", "-s", host, "-p", port, "-d", filepath.Join(dir, "queries"), "-c", "1", "-q", "1000", "-t", "1", "-b", "4096"}, extra...)
	cmd := exec.Command("taskset", args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Run(); err != nil {
		log.Fatalf("dnsperf: %v\n%s", err, stdout.String())
	}
	return stdout.String(), "taskset " + strings.Join(args, " ")
}

// throughput is one bounded run's queries a second.
func throughput(addr, dir string) (float64, string) {
	o, command := dnsperf(addr, dir, "-l", strconv.Itoa(*seconds), "-Q", strconv.Itoa(*rate))
	return figure(o, "Queries per second"), command
}

// latency is the mean and p99 at a fixed, moderate rate.
func latency(addr, dir string) (meanMs, p99Ms float64) {
	o, _ := dnsperf(addr, dir, "-l", "4", "-Q", strconv.Itoa(*latencyRate), "-v")
	return latencies(o)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

var figureLine = regexp.MustCompile(`(?m)^\s*([A-Za-z ()]+):\s+([0-9.]+)`)

func figure(out, name string) float64 {
	for _, m := range figureLine.FindAllStringSubmatch(out, -1) {
		if strings.TrimSpace(m[1]) == name {
			v, _ := strconv.ParseFloat(m[2], 64)
			return v
		}
	}
	return 0
}

// latencyList reads dnsperf -v's per-response lines ("> RCODE name type
// seconds") as sorted milliseconds.
func latencyList(out string) []float64 {
	var ls []float64
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == ">" {
			if v, err := strconv.ParseFloat(f[4], 64); err == nil {
				ls = append(ls, v*1000)
			}
		}
	}
	sort.Float64s(ls)
	return ls
}

// latencies returns the mean and p99 of dnsperf -v's response times.
func latencies(out string) (meanMs, p99Ms float64) {
	ls := latencyList(out)
	if len(ls) == 0 {
		return 0, 0
	}
	sum := 0.0
	for _, v := range ls {
		sum += v
	}
	return sum / float64(len(ls)), ls[len(ls)*99/100]
}

func writeInputs(dir string) error {
	var q, zone, hosts, rules strings.Builder
	zone.WriteString("$TTL 60\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n")
	for i := 0; i < names; i++ {
		fmt.Fprintf(&q, "name%d.bench.test A\n", i)
		fmt.Fprintf(&zone, "name%d IN A 192.0.2.%d\n", i, i%250+1)
		fmt.Fprintf(&hosts, "192.0.2.%d name%d.bench.test\n", i%250+1, i)
		fmt.Fprintf(&rules, "  - {match: {names: [miss%d.other.test]}, action: servfail}\n", i)
	}
	zoneYAML := "version: 1\nupstream: none\nzones: [{origin: bench.test., file: bench.test.zone}]\n"
	files := map[string]string{
		"queries":         q.String(),
		"bench.test.zone": zone.String(),
		"hosts":           hosts.String(),
		"zone.yaml":       zoneYAML,
		"rules.yaml":      zoneYAML + "rules:\n" + rules.String(),
		"wildcard.yaml":   "version: 1\nupstream: none\nrules: [{match: {names: [\"*.bench.test\"]}, action: answer, records: [\"@ 60 IN A 192.0.2.1\"]}]\n",
		"forward.yaml":    "version: 1\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func unboundConf(dir string, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  interface: 127.0.0.1\n  port: %d\n  do-daemonize: no\n  chroot: \"\"\n  username: \"\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  num-threads: 1\n  access-control: 127.0.0.0/8 allow\n  do-ip6: no\n  local-zone: \"bench.test.\" static\n", port)
	for i := 0; i < names; i++ {
		fmt.Fprintf(&b, "  local-data: \"name%d.bench.test. 60 IN A 192.0.2.%d\"\n", i, i%250+1)
	}
	return b.String()
}

func table(results []result) string {
	var ref result
	for _, r := range results {
		if r.name == "a" {
			ref = r
		}
	}
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.*)`).FindStringSubmatch(string(data)); m != nil {
			cpu = m[1]
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nMeasured by `make bench` on %s: %d cores (%s), %s, dnsperf.\n\n", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpu, runtime.Version())
	fmt.Fprintf(&b, "Each server runs pinned to core 0 (Go servers with GOMAXPROCS=1), dnsperf to core 1, against %d names under one zone, one server at a time.\n", names)
	fmt.Fprintf(&b, "Throughput: the median of %d runs of %d s with dnsperf bounded at %d q/s, in rounds (each configuration once per round, each run on a fresh server). Latency: after each throughput run, 4 s at a fixed %d q/s, from dnsperf's per-response times; the medians of the runs' mean and p99.\n", *runs, *seconds, *rate, *latencyRate)
	fmt.Fprintf(&b, "Ratios are against (a), measured in the same run.\n\n")
	fmt.Fprintf(&b, "| | server | queries/s | vs (a) | mean latency | p99 latency | p99 vs (a) |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| (%s) | %s | %.0f | %.2f | %.3f ms | %.3f ms | %.2f |\n", r.name, r.what, r.qps, ratio(r.qps, ref.qps), r.meanMs, r.p99Ms, ratio(r.p99Ms, ref.p99Ms))
	}
	if len(results) > 0 {
		fmt.Fprintf(&b, "\nThroughput command (the server's port varies): `%s -l %d -Q %d`\n", results[0].command[:strings.Index(results[0].command, " -l ")], *seconds, *rate)
	}
	b.WriteString(targets(results))
	b.WriteString(beforeAfter(results))
	return b.String()
}

// howItGetsThere closes BENCHMARKS.md: what the figures owe to what.
const howItGetsThere = `
## How dnsfault gets there

- UDP is served in batches (injector/udpbatch): one recvmmsg reads up to
  64 queries, they are handled on the goroutine that read them, and one
  sendmmsg sends their answers. miekg/dns's server, which (a) is, reads
  and writes one datagram per system call and starts a goroutine per
  query. A socket bound to a wildcard address is batched the same way:
  each datagram brings the address it came to (IP_PKTINFO), and its
  answer leaves from there; (b0) measures it.
- A UDP query that no rule can take and that the zones answer is
  answered from bytes packed the first time (ServeRaw): only its ID and
  the case of its question change: about 0.4 us and no allocation, against
  1.5 us and 6 allocations the full way (BenchmarkServeDNS). (d), whose
  rule runs the full pipeline on every query, gets no such help.
- Those system calls are raw: made without telling Go's scheduler,
  on a non-blocking socket whose waits still go through the netpoller.
  A sendmmsg of a full batch takes long enough here (a few hundred
  microseconds) that the scheduler would otherwise hand its processor to
  a new thread, which then sleeps in epoll_wait and is woken by every
  query arriving; perf put 15% of (b)'s CPU in those wake-ups. Going raw
  took (b) from 8.9 to 6.8 us of server CPU per query at saturation.
- On Linux each core reads a UDP socket of its
  own, all sharing the port (SO_REUSEPORT). The runs above have one core,
  so one socket. Unpinned, with GOMAXPROCS=2 and dnsperf on the same two
  cores, one socket per core against one socket read by two goroutines:
  less server CPU per query in 15 of 18 paired runs, 7% less at the
  median (from 26% less to 4% more), throughput level or better.
- What is left is the kernel's: in (b) about 85% of the server's CPU is
  in sendmmsg and recvmmsg, most of it delivering answers into
  dnsperf's socket and waking dnsperf. A batched Go server that echoes
  every query and does no DNS work costs 5 to 6 us per query here;
  (b) costs 5.3 to 6.8.
- Forwarded queries share four UDP sockets per upstream, answers are
  matched by ID and question, and no goroutine waits for each; queries
  to the upstream and the answers to clients go out in batches too.
  With the upstream on dnsfault's own core, (e) pays for both servers
  on one core. (a) costs about 15 us of that core per query (miekg/dns:
  a system call per datagram and a goroutine per query), so at 0.6 x
  (a) it would leave dnsfault about 6.7 us per forwarded query, for
  four datagrams where (b) moves two in 5 to 6 us: no forwarder can
  reach 0.6 x (a) in that placement on this machine, and (f3), dnsmasq
  forwarding the same way with no cache, is no closer. (e1) puts the
  upstream on dnsperf's core instead, and both cores are then nearly
  full: measured alone at 60k q/s, dnsfault used 87% of its core, at
  14 us per forwarded query (6 of them in Go: unpacking, packing,
  matching answers to queries, GC), and the upstream 66% of the other.
- Delayed UDP queries wait on a timer, not in a goroutine: about 1 KiB
  each while held.
- Every server here, dnsperf included, asks for 4 MiB socket buffers
  where it can (dnsperf -b 4096): smaller ones overflowed under bursts
  and turned into timeouts.
- Run-to-run noise on this machine is large (a single run of (a) has
  ranged from 66k to 96k q/s): read the ratios, taken within one run,
  and the medians. CPU profiles of every dnsfault configuration:
  ` + "`go run ./bench -profile DIR`" + `.
`

// targets compares the run with the throughput targets of issue 6.
func targets(results []result) string {
	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
	}
	if byName["a"].qps == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n| target (issue 6) | this run | met | lowest and highest round |\n|---|---|---|---|\n")
	row := func(target, a, over string, min float64) {
		x, y := byName[a], byName[over]
		if x.qps == 0 || y.qps == 0 {
			return
		}
		met := "yes"
		if x.qps/y.qps < min {
			met = "no"
		}
		fmt.Fprintf(&b, "| %s | %.2f | %s | %s |\n", target, x.qps/y.qps, met, roundRange(x.rounds, y.rounds))
	}
	row("(b) >= 0.9 x (a)", "b", "a", 0.9)
	row("(b0) >= 0.9 x (b): --listen 0.0.0.0 against 127.0.0.1 (issue 27)", "b0", "b", 0.9)
	row("(bt) >= 0.9 x (b): with --dnstap (issue 28)", "bt", "b", 0.9)
	row("(c) >= 0.85 x (a)", "c", "a", 0.85)
	row("(d) >= 0.9 x (a)", "d", "a", 0.9)
	row("(e) >= 0.6 x (a), upstream on dnsfault's core", "e", "a", 0.6)
	row("(e) >= 0.6 x (a), upstream on dnsperf's core", "e1", "a", 0.6)
	row("(e) against dnsmasq forwarding, upstream on the server's core: (e) / (f3)", "e", "f3", 1)
	row("(e) against dnsmasq forwarding, upstream on dnsperf's core: (e1) / (f4)", "e1", "f4", 1)
	row("(b) ahead of dnsmasq: (b) / (f1)", "b", "f1", 1)
	row("(b) against unbound: (b) / (f2)", "b", "f2", 1)
	return b.String()
}

// roundRange is the lowest and the highest of the ratios xs[i]/ys[i],
// each taken within one round.
func roundRange(xs, ys []float64) string {
	if len(xs) != len(ys) || len(xs) == 0 {
		return "-" // a configuration was skipped in some round
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range xs {
		r := ratio(xs[i], ys[i])
		lo, hi = math.Min(lo, r), math.Max(hi, r)
	}
	return fmt.Sprintf("%.2f to %.2f", lo, hi)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func freePort() int {
	for {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		must(err)
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			ln.Close()
			return port
		}
	}
}

// waitReady queries addr until it answers, for at most 10 s.
func waitReady(addr string) { waitReadyFor(addr, 200*time.Millisecond) }

// waitReadyFor is waitReady with each query waiting up to timeout.
func waitReadyFor(addr string, timeout time.Duration) {
	c := &dns.Client{Timeout: timeout}
	q := new(dns.Msg)
	q.SetQuestion("name1.bench.test.", dns.TypeA)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, _, err := c.Exchange(q, addr); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling a process we started for readiness
	}
	log.Fatalf("%s never answered", addr)
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	must(cmd.Run())
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// beforeAfter compares each dnsfault configuration with the earlier
// binary's (-before): the ratio of their throughputs in each round, and
// of their ratios against (a).
func beforeAfter(results []result) string {
	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
	}
	var b strings.Builder
	for _, r := range results {
		old, ok := byName[r.name+"-before"]
		if !ok || len(old.rounds) != len(r.rounds) {
			continue
		}
		if b.Len() == 0 {
			fmt.Fprintf(&b, "\n## Before and after\n\nEach configuration against the same one served by the earlier binary (`make bench` with `-before`), in the same rounds: the median, lowest and highest of the rounds' after/before throughput ratios.\n\n")
			fmt.Fprintf(&b, "| | after / before | lowest–highest round | vs (a), after | vs (a), before |\n|---|---|---|---|---|\n")
		}
		var ratios []float64
		for i := range r.rounds {
			ratios = append(ratios, ratio(r.rounds[i], old.rounds[i]))
		}
		ref := byName["a"]
		fmt.Fprintf(&b, "| (%s) | %.2f | %.2f–%.2f | %.2f | %.2f |\n", r.name, median(ratios), slices.Min(ratios), slices.Max(ratios), ratio(r.qps, ref.qps), ratio(old.qps, ref.qps))
	}
	return b.String()
}
