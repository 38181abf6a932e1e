package main_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCtlFlagsGoBeforeOrAfterTheSubcommand: as in git, kubectl and
// docker, both orders reach the server.
func TestCtlFlagsGoBeforeOrAfterTheSubcommand(t *testing.T) {
	t.Parallel()
	s := serve(t, "-s", "demo")
	for _, args := range [][]string{
		{"ctl", "--control", s.control, "status"},
		{"ctl", "status", "--control", s.control},
		{"ctl", "--control=" + s.control, "--json", "status"},
	} {
		r := runDnsfault(t, args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stdout, "demo", "%v", args)
	}
}

// TestUsageErrorsExitTwo: a usage error exits 2 with one line naming the
// command (run's own exit 125, so they are not taken for the command's),
// and `dnsfault version` prints the version.
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"frobnicate"}, 2, `dnsfault: no command "frobnicate" (dnsfault --help lists them)`},
		{[]string{"ctl", "pause"}, 2, `dnsfault ctl: no command "pause" (dnsfault ctl --help lists them)`},
		{[]string{"ctl", "statsu"}, 2, `dnsfault ctl: no command "statsu"`},
		{[]string{"scenarios", "lst"}, 2, `dnsfault scenarios: no command "lst" (dnsfault scenarios --help lists them)`},
		{[]string{"serve", "--bogus"}, 2, "dnsfault serve: flag provided but not defined: --bogus"},
		{[]string{"serve", "-bogus"}, 2, "dnsfault serve: flag provided but not defined: -bogus"},
		{[]string{"ctl", "--bogus", "status"}, 2, "dnsfault ctl status: flag provided but not defined: --bogus"},
		{[]string{"validate", "--bogus", "x.yaml"}, 2, "dnsfault validate: flag provided but not defined: --bogus"},
		{[]string{"run", "--bogus", "-s", "demo", "--", "true"}, 125, "dnsfault run: flag provided but not defined: --bogus"},
		{[]string{"run", "--speed", "abc", "-s", "demo", "--", "true"}, 125, `dnsfault run: invalid value "abc" for flag --speed`},
		{[]string{"run", "--speed=abc", "-s", "demo", "--", "true"}, 125, `dnsfault run: invalid value "abc" for flag --speed`},
		{[]string{"run", "--", "true"}, 125, "give the scenario to replay: -s FILE"},
	}
	for _, tc := range cases {
		r := runDnsfault(t, tc.args...)
		assert.Equal(t, tc.code, r.code, "%v: %s", tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.stderr, "%v", tc.args)
		assert.NotContains(t, r.stderr, "USAGE:", "%v: one line, not a help dump", tc.args)
	}
	r := runDnsfault(t, "version")
	assert.Equal(t, 0, r.code)
	want := `^dnsfault dev\n$`
	inCheckout := exec.Command("git", "rev-parse", "HEAD").Run() == nil
	if inCheckout {
		// Built in a git checkout (as make build and CI do): the commit.
		want = `^dnsfault dev \(commit ([0-9a-f]{12}), [0-9TZ:-]+(, modified)?\)\n$`
	}
	assert.Regexp(t, want, r.stdout)
	if m := regexp.MustCompile(want).FindStringSubmatch(r.stdout); inCheckout && m != nil {
		assert.NoError(t, exec.Command("git", "rev-parse", "--verify", "--quiet", m[1]+"^{commit}").Run(), "a commit of this repository: %s", m[1])
	}
	r = runDnsfault(t, "--version")
	assert.Regexp(t, strings.Replace(want, "^dnsfault ", "^dnsfault version ", 1), r.stdout)
}

// TestPapercuts: --speed 0 is refused as -1 is; serve without a scenario
// says so rather than serving "none"; make run takes CONTROL= (issue 28).
func TestPapercuts(t *testing.T) {
	t.Parallel()
	for _, speed := range []string{"0", "-1"} {
		r := runDnsfault(t, "serve", "--speed", speed)
		assert.Equal(t, 2, r.code, "a bad flag: %s", r.stderr)
		assert.Contains(t, r.stderr, "--speed "+speed+": give a number above 0")
	}
	s := serve(t)
	assert.Contains(t, s.log(), "dnsfault: serving no scenario (no faults until one is loaded: ctl load)")
	assert.NotContains(t, s.log(), `serving "none"`)

	out, err := exec.Command("make", "-s", "-n", "-C", "../..", "run", "CONTROL=127.0.0.1:9053").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "--control 127.0.0.1:9053")
}

// TestHelpSaysWhatDefaultsMean: no "(default: 0s)" where 0 means off, and
// every default shown once.
func TestHelpSaysWhatDefaultsMean(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "run"} {
		r := runDnsfault(t, cmd, "--help")
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stdout, "(default: 0s)", cmd)
		assert.NotContains(t, r.stdout, "(default: 0)", cmd)
		assert.Contains(t, r.stdout, "turn every fault off for good D after the start (default: off)", cmd)
		for _, line := range strings.Split(r.stdout, "\n") {
			assert.LessOrEqual(t, strings.Count(line, "default"), 1, "%s: %s", cmd, line)
		}
	}
}
