package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Signed answers: the same zone served unsigned and signed (dnssec: true),
// dnsperf asking with and without the DO bit, each server pinned to core
// 0 and dnsperf to core 1, in rounds. A signed zone's signatures are made
// when the scenario loads and kept, so an answer costs what an unsigned
// one does plus its bytes; what signing costs when nothing is kept (a
// fault's made-up answer) is the Go benchmark of injector/dnssec, run
// here too.

type signedConfig struct {
	name, what, scenario string
	do                   bool
}

func dnssecBench(bin, dir string) string {
	zone := "version: 1\nupstream: none\nzones: [{origin: bench.test., file: bench.test.zone%s}]\n"
	must(os.WriteFile(filepath.Join(dir, "signed.yaml"), []byte(fmt.Sprintf(zone, ", dnssec: true")), 0o644))
	configs := []signedConfig{
		{"s0", "dnsfault, unsigned zone, queries without DO (the reference)", "zone.yaml", false},
		{"s1", "dnsfault, unsigned zone, queries with DO", "zone.yaml", true},
		{"s2", "dnsfault, signed zone, queries with DO: signed answers", "signed.yaml", true},
		{"s3", "dnsfault, signed zone, queries without DO", "signed.yaml", false},
	}
	qps := map[string][]float64{}
	for round := 1; round <= *runs; round++ {
		for _, c := range configs {
			port := freePort()
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			cmd := pinned(bin, "serve", "-s", filepath.Join(dir, c.scenario), "--listen", addr, "--control", "127.0.0.1:0", "--rate-limit", "0", "--signing-budget", "0")
			must(cmd.Start())
			waitReady(addr)
			extra := []string{"-l", strconv.Itoa(*seconds), "-Q", strconv.Itoa(*rate)}
			if c.do {
				extra = append(extra, "-D")
			}
			o, _ := dnsperf(addr, dir, extra...)
			stop(cmd)
			q := figure(o, "Queries per second")
			qps[c.name] = append(qps[c.name], q)
			log.Printf("round %d (%s) %-60s %8.0f q/s", round, c.name, c.what, q)
		}
	}
	m := map[string]float64{}
	for k, v := range qps {
		m[k] = median(v)
	}
	text := fmt.Sprintf("\n## Signed answers (DNSSEC)\n\nThe zone of (b), %d names, served unsigned and signed (ECDSA P-256, signatures made when the scenario loads and kept); dnsperf with `-D` (the DO bit) or without, on core 1, the server on core 0; the median of %d runs of %d s in rounds. Ratios against (s0) in the same run.\n\n", names, *runs, *seconds)
	text += "| | server | queries/s | vs (s0) |\n|---|---|---|---|\n"
	for _, c := range configs {
		text += fmt.Sprintf("| (%s) | %s | %.0f | %.2f |\n", c.name, c.what, m[c.name], m[c.name]/m["s0"])
	}
	text += "\n| target (issue 19) | this run | met |\n|---|---|---|\n"
	text += fmt.Sprintf("| signed answers at least 0.8x unsigned: (s2) / (s0) | %.2f | %s |\n", m["s2"]/m["s0"], yes(m["s2"] >= 0.8*m["s0"]))
	log.Printf("signed/unsigned %.2f", m["s2"]/m["s0"])
	text += signingCost()
	return text
}

// signingCost runs injector/dnssec's benchmarks: what an answer costs to
// sign when no signature is kept.
func signingCost() string {
	out, err := exec.Command("taskset", "-c", "0", "go", "test", "-run", "^$", "-bench", ".", "-benchtime", "2s", "./injector/dnssec/").CombinedOutput()
	if err != nil {
		log.Printf("the signing benchmarks failed: %v\n%s", err, out)
		return ""
	}
	text := "\nSigning when no signature is kept (`go test -bench . ./injector/dnssec/`, core 0): the cost of a fault's made-up answer in a signed zone, and of each RRset when a scenario loads.\n\n| benchmark | per operation |\n|---|---|\n"
	line := regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+([0-9.]+) ns/op`)
	for _, l := range strings.Split(string(out), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			ns, _ := strconv.ParseFloat(m[3], 64)
			text += fmt.Sprintf("| %s | %.1f µs |\n", m[1], ns/1000)
		}
	}
	return text
}
