package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pythonWithDNSPython finds a Python that can import dnspython: Debian's
// (where python3-dnspython installs), or the one on PATH.
func pythonWithDNSPython(t *testing.T) string {
	t.Helper()
	for _, python := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(python, "-c", "import dns.resolver").Run() == nil {
			return python
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no python3 with dnspython, and CI must not skip: apt-get install -y python3-dnspython")
	}
	t.Skip("no python3 with dnspython (apt-get install -y python3-dnspython); skipping")
	return ""
}

// TestClientExamplesSeeTheFaults runs each client example under dnsfault
// run with the demo scenario, and checks that it sees each fault as its
// own library reports it.
func TestClientExamplesSeeTheFaults(t *testing.T) {
	t.Parallel()
	names := []string{"ok.demo.test", "nxdomain.demo.test", "servfail.demo.test", "empty.demo.test"}
	goClient := filepath.Join(t.TempDir(), "resolve")
	out, err := exec.Command("go", "build", "-o", goClient, "../../examples/clients/go").CombinedOutput()
	require.NoError(t, err, string(out))

	cases := []struct {
		client  string
		command func(t *testing.T) []string
		want    []string
	}{
		{"go", func(*testing.T) []string { return []string{goClient} }, []string{
			"ok.demo.test: [192.0.2.10 2001:db8::10]",
			"nxdomain.demo.test: not found (NXDOMAIN or no records)",
			"servfail.demo.test: temporary failure (SERVFAIL)",
			"empty.demo.test: not found (NXDOMAIN or no records)",
		}},
		{"node", func(t *testing.T) []string {
			return []string{requireTool(t, "node", "nodejs"), "../../examples/clients/node/resolve.js"}
		}, []string{
			"ok.demo.test: 192.0.2.10",
			"nxdomain.demo.test: ENOTFOUND",
			"servfail.demo.test: ESERVFAIL",
			"empty.demo.test: ENODATA",
		}},
		{"python", func(t *testing.T) []string {
			return []string{pythonWithDNSPython(t), "../../examples/clients/python/resolve.py"}
		}, []string{
			"ok.demo.test: 192.0.2.10",
			"nxdomain.demo.test: NXDOMAIN",
			"servfail.demo.test: NoNameservers (SERVFAIL)",
			"empty.demo.test: NoAnswer (NODATA)",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.client, func(t *testing.T) {
			argv := tc.command(t)
			usage := exec.Command(argv[0], argv[1:]...)
			var stderr strings.Builder
			usage.Stderr = &stderr
			err := usage.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "without names it stops")
			assert.Equal(t, 2, exit.ExitCode())
			assert.Contains(t, stderr.String(), "usage: ", "without names it says how to run it")
			args := append([]string{"run", "-s", "demo", "--allow-unexercised", "--"}, tc.command(t)...)
			r := runDnsfault(t, append(args, names...)...)
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Equal(t, tc.want, strings.Split(strings.TrimSpace(r.stdout), "\n"))
		})
	}
}
