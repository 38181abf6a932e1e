package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// podmanRun is how containers run here: runc (crun fails on this host's
// cgroups) and the limits runc can set (bench-notes).
var podmanRun = []string{"--runtime", "runc", "run", "--rm", "-d", "--read-only", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"}

// TestTheImageServesEveryTransport: the Containerfile's image (a static
// binary on an empty base) runs as a non-root user with a read-only root
// filesystem, answers dig and kdig from the host over UDP, TCP, DoT and
// DoH, and binds port 53 without root when its network namespace allows
// it (issue 29).
func TestTheImageServesEveryTransport(t *testing.T) {
	t.Parallel()
	podman := requireTool(t, "podman", "podman runc")
	dig := requireTool(t, "dig", "bind9-dnsutils")
	kdig := requireTool(t, "kdig", "knot-dnsutils")
	ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Minute))
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, podman, args...).CombinedOutput()
		require.NoError(t, err, "podman %s:\n%s", strings.Join(args, " "), out)
		return strings.TrimSpace(string(out))
	}

	// The image, built as make image builds it, in a context of its own.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "bin", "dnsfault-static"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	containerfile, err := os.ReadFile(filepath.Join(repoRoot(t), "Containerfile"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Containerfile"), containerfile, 0o644))
	image := fmt.Sprintf("localhost/dnsfault-test:%d", time.Now().UnixNano())
	run("build", "-q", "-f", filepath.Join(dir, "Containerfile"), "-t", image, dir)
	t.Cleanup(func() { exec.Command(podman, "rmi", "-f", image).Run() })
	assert.Equal(t, "65532:65532", run("image", "inspect", "--format", "{{.Config.User}}", image), "not root")

	// On the host's network, on free ports: every transport from the host.
	udp, dot, doh, ctl := dnstest.FreePort(t), dnstest.FreePort(t), dnstest.FreePort(t), dnstest.FreePort(t)
	id := run(append(append([]string{}, podmanRun...), "--network", "host", image, "serve", "-s", "demo",
		"--listen", fmt.Sprintf("127.0.0.1:%d", udp), "--listen", fmt.Sprintf("tls://127.0.0.1:%d", dot),
		"--listen", fmt.Sprintf("https://127.0.0.1:%d/dns-query", doh), "--control", fmt.Sprintf("127.0.0.1:%d", ctl))...)
	t.Cleanup(func() { exec.Command(podman, "rm", "-f", id).Run() })
	ask := func(tool string, args ...string) string {
		c := exec.CommandContext(ctx, tool, args...)
		out, _ := c.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	require.Eventually(t, func() bool {
		return ask(dig, "@127.0.0.1", "-p", fmt.Sprint(udp), "+tries=1", "+time=2", "+short", "ok.demo.test") == "192.0.2.10"
	}, dnstest.Patience(60*time.Second), 100*time.Millisecond, "the container answers:\n%s", run("logs", id))
	for name, args := range map[string][]string{
		"tcp": {dig, "@127.0.0.1", "-p", fmt.Sprint(udp), "+tcp", "+tries=3", "+time=5", "+short", "ok.demo.test"},
		"dot": {kdig, "@127.0.0.1", "-p", fmt.Sprint(dot), "+tls", "+retry=2", "+short", "ok.demo.test"},
		"doh": {kdig, "@127.0.0.1", "-p", fmt.Sprint(doh), "+https=/dns-query", "+retry=2", "+short", "ok.demo.test"},
	} {
		assert.Equal(t, "192.0.2.10", ask(args[0], args[1:]...), name)
	}
	assert.Equal(t, "NXDOMAIN", rcodeOf(ask(dig, "@127.0.0.1", "-p", fmt.Sprint(udp), "+tries=3", "+time=5", "nxdomain.demo.test")), "a fault")

	// Port 53 as a non-root user, in a network namespace of its own that
	// allows it; refused, with a line that says what to do, without.
	low := run(append(append([]string{}, podmanRun...), "--network", "none", "--sysctl", "net.ipv4.ip_unprivileged_port_start=53",
		image, "serve", "-s", "demo", "--listen", "127.0.0.1:53")...)
	t.Cleanup(func() { exec.Command(podman, "rm", "-f", low).Run() })
	require.Eventually(t, func() bool {
		return strings.Contains(run("logs", low), `dnsfault: serving "demo" on 127.0.0.1:53`)
	}, dnstest.Patience(60*time.Second), 100*time.Millisecond, "port 53 without root")
}

// rcodeOf is the status dig printed.
func rcodeOf(out string) string {
	if i := strings.Index(out, "status: "); i >= 0 {
		return strings.TrimSuffix(strings.Fields(out[i+len("status: "):])[0], ",")
	}
	return ""
}
