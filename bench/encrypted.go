package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dnsfault/dnsfault/injector/tlscert"
)

// The encrypted transports: dnsfault's DoT and DoH against unbound's, and
// against dnsfault's own UDP, with dnsperf -m dot and -m doh (which keeps
// its connections, and so its TLS sessions, for the whole run), each
// server pinned to core 0 and dnsperf to core 1, in rounds.

// encryptedClients is how many connections dnsperf keeps open.
const encryptedClients = 4

type encryptedConfig struct {
	name, what string
	mode       string // dnsperf -m
	start      func(dir string) (cmd *exec.Cmd, addr string)
}

func encryptedBench(bin, dir string) string {
	certFile, keyFile := writeBenchCert(dir)
	zoneScenario := filepath.Join(dir, "zone.yaml")
	dnsfaultListen := func(listen string) func(string) (*exec.Cmd, string) {
		return func(dir string) (*exec.Cmd, string) {
			port := freePort()
			args := []string{"serve", "-s", zoneScenario, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort()), "--control", "127.0.0.1:0", "--rate-limit", "0",
				"--tls-cert", certFile, "--tls-key", keyFile}
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			switch listen {
			case "udp":
				args[4] = addr
			case "dot":
				args = append(args, "--listen", "tls://"+addr)
			case "doh":
				args = append(args, "--listen", "https://"+addr+"/dns-query")
			}
			cmd := pinned(bin, args...)
			must(cmd.Start())
			waitTCP(addr, listen)
			return cmd, addr
		}
	}
	unboundTLS := func(dir string) (*exec.Cmd, string) {
		dotPort, dohPort := freePort(), freePort()
		conf := filepath.Join(dir, "unbound-tls.conf")
		text := unboundConf(dir, freePort()) + fmt.Sprintf("  interface: 127.0.0.1@%d\n  interface: 127.0.0.1@%d\n  tls-port: %d\n  https-port: %d\n  tls-service-key: %q\n  tls-service-pem: %q\n  http-endpoint: \"/dns-query\"\n",
			dotPort, dohPort, dotPort, dohPort, keyFile, certFile)
		must(os.WriteFile(conf, []byte(text), 0o644))
		cmd, err := pinnedTool("unbound", "-d", "-c", conf)
		must(err)
		must(cmd.Start())
		waitTCP(fmt.Sprintf("127.0.0.1:%d", dotPort), "dot")
		return cmd, fmt.Sprintf("127.0.0.1:%d|127.0.0.1:%d", dotPort, dohPort)
	}
	configs := []encryptedConfig{
		{"t0", "dnsfault over UDP, names from a zone (the reference)", "udp", dnsfaultListen("udp")},
		{"t1", "dnsfault over DoT", "dot", dnsfaultListen("dot")},
		{"t2", "unbound over DoT, names as local-data", "dot", unboundTLS},
		{"t3", "dnsfault over DoH (HTTP/2, GET)", "doh", dnsfaultListen("doh")},
		{"t4", "unbound over DoH (HTTP/2, GET), names as local-data", "doh", unboundTLS},
	}
	qps := map[string][]float64{}
	for round := 1; round <= *runs; round++ {
		for _, c := range configs {
			cmd, addr := c.start(dir)
			if strings.Contains(addr, "|") { // unbound: DoT and DoH on two ports
				parts := strings.Split(addr, "|")
				addr = parts[0]
				if c.mode == "doh" {
					addr = parts[1]
				}
			}
			q := encryptedThroughput(addr, dir, c.mode)
			stop(cmd)
			qps[c.name] = append(qps[c.name], q)
			log.Printf("round %d (%s) %-55s %8.0f q/s", round, c.name, c.what, q)
		}
	}
	m := map[string]float64{}
	for k, v := range qps {
		m[k] = median(v)
	}
	text := fmt.Sprintf("\n## DNS over TLS and DNS over HTTPS\n\nEach server pinned to core 0, dnsperf (`-m dot` or `-m doh`, %d connections kept for the whole run, so TLS sessions are reused as dnsperf does) on core 1, %d names, the median of %d runs of %d s in rounds. Ratios against (t0), dnsfault's own UDP, in the same run.\n\n", encryptedClients, names, *runs, *seconds)
	text += "| | server | queries/s | vs (t0) |\n|---|---|---|---|\n"
	for _, c := range configs {
		text += fmt.Sprintf("| (%s) | %s | %.0f | %.2f |\n", c.name, c.what, m[c.name], m[c.name]/m["t0"])
	}
	text += "\n| target (issue 18) | this run | met |\n|---|---|---|\n"
	text += fmt.Sprintf("| DoT at least unbound's: (t1) / (t2) | %.2f | %s |\n", m["t1"]/m["t2"], yes(m["t1"] >= m["t2"]))
	text += fmt.Sprintf("| DoH at least 0.8x unbound's: (t3) / (t4) | %.2f | %s |\n", m["t3"]/m["t4"], yes(m["t3"] >= 0.8*m["t4"]))
	log.Printf("DoT/unbound %.2f, DoH/unbound %.2f", m["t1"]/m["t2"], m["t3"]/m["t4"])
	return text
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// encryptedThroughput is one run's queries a second over mode.
func encryptedThroughput(addr, dir, mode string) float64 {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-c", "1", "dnsperf", "-m", mode, "-s", host, "-p", port, "-d", filepath.Join(dir, "queries"),
		"-c", strconv.Itoa(encryptedClients), "-q", "1000", "-t", "2", "-l", strconv.Itoa(*seconds), "-Q", strconv.Itoa(*rate)}
	if mode == "doh" {
		args = append(args, "-O", "doh-uri=https://"+addr+"/dns-query")
	}
	out, err := exec.Command("taskset", args...).CombinedOutput()
	if err != nil {
		log.Fatalf("dnsperf -m %s: %v\n%s", mode, err, out)
	}
	return figure(string(out), "Queries per second")
}

// waitTCP waits until addr accepts TCP connections (each transport here
// is served over TCP), or gives up after 10 s.
func waitTCP(addr, what string) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) { // polling a process we started
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if what == "udp" {
			if c, err := net.Dial("udp", addr); err == nil {
				c.Close()
				waitReadyFor(addr, 2*time.Second)
				return
			}
		}
	}
	log.Fatalf("%s on %s never came up", what, addr)
}

// writeBenchCert writes a certificate for 127.0.0.1 and its key, which
// dnsfault and unbound both serve, so neither makes its own.
func writeBenchCert(dir string) (certFile, keyFile string) {
	made, err := tlscert.Make([]string{"127.0.0.1", "localhost"})
	must(err)
	var certPEM []byte
	for _, der := range made.Cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalECPrivateKey(made.Cert.PrivateKey.(*ecdsa.PrivateKey))
	must(err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(os.WriteFile(certFile, certPEM, 0o644))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}
