package main_test

import (
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// TestStartupErrorsSayWhatToDo: a port in use names a way out, and the
// control port is taken before anything says "serving".
func TestStartupErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer held.Close()
	addr := held.Addr().String()

	r := runDnsfault(t, "serve", "--listen", addr, "--control", "127.0.0.1:0")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "address already in use")
	assert.Contains(t, r.stderr, "give --listen another address, or port 0 for a free one")

	r = runDnsfault(t, "serve", "--listen", "127.0.0.1:0", "--control", addr)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "give --control another address")
	assert.NotContains(t, r.stderr, "serving", "nothing claims to serve before the control API is up")

	r = runDnsfault(t, "serve", "--listen", ":0", "--control", "127.0.0.1:0")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "listen address :0 is not loopback: give --allow CIDR", "an empty host is every address, under the --allow rule")

	r = runDnsfault(t, "serve", "-s", "aws-dynamodb-us-east-1-2025", "--speed", "1e12", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `--speed 1e+12 makes phase "healthy" last 0s, too short for any query to see it: use --speed 3000 or less`)
}

// TestTheBannerShowsTheConfiguration: where names go, the zones, the
// speed and the recording, in the banner and in ctl status.
func TestTheBannerShowsTheConfiguration(t *testing.T) {
	t.Parallel()
	rec := t.TempDir() + "/rec.json"
	s := serve(t, "-s", "demo", "--upstream", "127.0.0.1:9,127.0.0.1:10", "--speed", "10", "--record", rec)
	banner := regexp.MustCompile(`dnsfault: forwarding to 127\.0\.0\.1:9, 127\.0\.0\.1:10; zones .*; speed 10x \(TTLs divided by 10\); recording into ` + regexp.QuoteMeta(rec))
	require.Eventually(t, func() bool { return banner.MatchString(s.log()) }, dnstest.Patience(10*time.Second), 10*time.Millisecond, "the banner's second line:\n%s", s.log())
	r := s.ctl(t, "status")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `forwarding\s+127\.0\.0\.1:9, 127\.0\.0\.1:10`, r.stdout)
	assert.Regexp(t, `recording\s+into `+rec, r.stdout)
}
