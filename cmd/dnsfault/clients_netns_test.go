package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const shop = `version: 1
upstream: none
zones:
  - origin: shop.test.
    records:
      - "api.shop.test. 60 IN A 192.0.2.80"
      - "v6.shop.test. 60 IN A 192.0.2.81"
      - "v6.shop.test. 60 IN AAAA 2001:db8::81"
rules:
  - {name: gone, match: {names: [gone.shop.test]}, action: nxdomain}
  - {name: broken, match: {names: [broken.shop.test]}, action: servfail}
  - {name: no-v6, match: {names: [v6.shop.test], types: [AAAA]}, action: servfail}
`

// namespaces numbers the namespaces this process makes.
var namespaces atomic.Int32

// netns makes a network namespace of the test's own, with loopback up and
// an /etc/netns/NAME/resolv.conf naming 127.0.0.1 (which `ip netns exec`
// puts over /etc/resolv.conf). Nothing in it reaches the host's network.
func netns(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("network namespace tests need root, and CI must not skip them")
		}
		t.Skip("network namespace tests need root; skipping")
	}
	ip := requireTool(t, "ip", "iproute2")
	name := fmt.Sprintf("dnsfault-test-%d-%d", os.Getpid(), namespaces.Add(1)) // tests run in parallel
	run := func(args ...string) {
		out, err := exec.Command(ip, args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	run("netns", "add", name)
	t.Cleanup(func() { exec.Command(ip, "netns", "delete", name).Run() })
	run("-n", name, "link", "set", "lo", "up")
	dir := filepath.Join("/etc/netns", name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n"), 0o644))
	return []string{ip, "netns", "exec", name}
}

// TestGlibcAndGoInANetworkNamespace runs dnsfault on port 53 inside a
// namespace the test made, and resolves there with glibc (getent) and Go's
// own resolver, both through the namespace's resolv.conf.
func TestGlibcAndGoInANetworkNamespace(t *testing.T) {
	t.Parallel()
	exec := netns(t)
	serveWith(t, exec, "-s", scenarioFile(t, shop), "--listen", "127.0.0.1:53")
	golookup := filepath.Join(t.TempDir(), "golookup")
	out, err := execCommand("go", "build", "-o", golookup, "./testdata/golookup").CombinedOutput()
	require.NoError(t, err, string(out))

	getent := func(args ...string) (string, int) {
		cmd := execCommand(exec[0], append(exec[1:], append([]string{"getent"}, args...)...)...)
		out, _ := cmd.Output()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out2, code := getent("hosts", "api.shop.test")
	assert.Equal(t, 0, code)
	assert.Equal(t, "192.0.2.80      api.shop.test\n", out2)
	_, code = getent("hosts", "gone.shop.test")
	assert.Equal(t, 2, code, "NXDOMAIN: getent's 'not found'")
	_, code = getent("hosts", "broken.shop.test")
	assert.Equal(t, 2, code, "SERVFAIL: glibc gives up, also 'not found' to getent")
	// With AAAA failing, getaddrinfo(AF_UNSPEC) still returns the IPv4
	// address. (glibc 2.36's AF_INET lookup, getent ahostsv4, fails
	// outright here: the kind of surprise this tool exists to show.)
	out2, code = getent("ahosts", "v6.shop.test")
	assert.Equal(t, 0, code)
	assert.Contains(t, out2, "192.0.2.81", "A still works while AAAA fails")
	assert.NotContains(t, out2, "2001:db8::81")

	cmd := execCommand(exec[0], append(exec[1:], golookup, "api.shop.test", "gone.shop.test", "broken.shop.test")...)
	cmd.Env = append(os.Environ(), "GODEBUG=netdns=go")
	got, _ := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	require.Len(t, lines, 3, string(got))
	assert.Equal(t, "api.shop.test [192.0.2.80]", lines[0])
	assert.Contains(t, lines[1], "no such host")
	assert.Contains(t, lines[2], "server misbehaving", "Go's word for SERVFAIL")
}

func TestDigAndKdigEDNSAndTCP(t *testing.T) {
	t.Parallel()
	requireTool(t, "kdig", "knot-dnsutils")
	var big strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&big, "      - \"big.shop.test. 60 IN TXT \\\"%s\\\"\"\n", strings.Repeat("x", 50))
	}
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&big, "      - \"medium.shop.test. 60 IN TXT \\\"%s\\\"\"\n", strings.Repeat("y", 80))
	}
	s := serve(t, "-s", scenarioFile(t, strings.Replace(shop, "    records:\n", "    records:\n"+big.String(), 1)))
	cases := []struct {
		desc string
		args []string
		want []string
	}{
		{"no EDNS: 512 bytes, so TC (with what fits)", []string{"+noedns", "+ignore", "medium.shop.test", "TXT"}, []string{"flags: qr aa tc rd;", "MSG SIZE  rcvd: 499"}},
		{"EDNS 1232 fits a medium answer", []string{"+bufsize=1232", "+ignore", "medium.shop.test", "TXT"}, []string{"flags: qr aa rd;", "ANSWER: 8", "udp: 1232"}},
		{"EDNS 4096 is capped at 1232: TC", []string{"+bufsize=4096", "+ignore", "big.shop.test", "TXT"}, []string{"flags: qr aa tc rd;", "udp: 1232", "MSG SIZE  rcvd: 1176"}},
		{"the TC retry over TCP gets it all", []string{"+bufsize=4096", "big.shop.test", "TXT"}, []string{"Truncated, retrying in TCP mode", "ANSWER: 30"}},
		{"+dnssec: DO is echoed", []string{"+dnssec", "api.shop.test"}, []string{"flags: do; udp: 1232", "192.0.2.80"}},
		{"a fault over TCP", []string{"+tcp", "broken.shop.test"}, []string{"status: SERVFAIL"}},
	}
	for _, tc := range cases {
		t.Run("dig "+tc.desc, func(t *testing.T) {
			out, code := s.dig(t, tc.args...)
			assert.Equal(t, 0, code, out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
	kdig := func(args ...string) string {
		out, err := execCommand("kdig", append([]string{"@" + s.host, "-p", s.port}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	t.Run("kdig EDNS and DO", func(t *testing.T) {
		out := kdig("+dnssec", "+bufsize=1232", "gone.shop.test")
		assert.Contains(t, out, "status: NXDOMAIN")
		assert.Contains(t, out, "flags: do")
	})
	t.Run("kdig over TCP", func(t *testing.T) {
		assert.Contains(t, kdig("+tcp", "big.shop.test", "TXT"), "ANSWER: 30")
	})
}

// execCommand is exec.Command, for tests whose local names shadow exec.
var execCommand = exec.Command
