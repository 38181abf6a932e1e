package main_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ddbZone is a healthy answer for the DynamoDB endpoint: a local service.
const ddbZone = `$ORIGIN dynamodb.us-east-1.amazonaws.com.
$TTL 5
@ IN SOA ns.invalid. admin.invalid. 1 60 60 60 5
@ IN A 127.0.0.1
`

// TestZoneGivesABundledOutageYourOwnHealthyAnswer: the bundled DynamoDB
// outage over --zone answers the zone in its healthy phase and the fault
// in its outage, without a copy of the scenario and without an upstream.
func TestZoneGivesABundledOutageYourOwnHealthyAnswer(t *testing.T) {
	t.Parallel()
	requireTool(t, "dig", "bind9-dnsutils")
	zone := filepath.Join(t.TempDir(), "ddb.zone")
	require.NoError(t, os.WriteFile(zone, []byte(ddbZone), 0o644))
	s := serve(t, "-s", "aws-dynamodb-us-east-1-2025", "--zone", zone, "--upstream", "none")

	out, _ := s.dig(t, "dynamodb.us-east-1.amazonaws.com", "A")
	assert.Regexp(t, `status: NOERROR`, out)
	assert.Regexp(t, `dynamodb\.us-east-1\.amazonaws\.com\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1`, out, "the healthy phase answers from --zone")

	r := runDnsfault(t, "ctl", "phase", "records-gone", "--control", s.control)
	require.Equal(t, 0, r.code, r.stderr)
	out, _ = s.dig(t, "dynamodb.us-east-1.amazonaws.com", "A")
	assert.Regexp(t, `status: NOERROR`, out)
	assert.Contains(t, out, "ANSWER: 0", "the outage empties the answer")
	assert.Equal(t, "REFUSED", s.digStatus(t, "other.amazonaws.com"), "names outside the zone still go upstream (none)")
}

// TestZoneFileErrorsAreNamed: a bad --zone file stops the start with its
// file, line and column.
func TestZoneFileErrorsAreNamed(t *testing.T) {
	t.Parallel()
	zone := filepath.Join(t.TempDir(), "bad.zone")
	require.NoError(t, os.WriteFile(zone, []byte("$ORIGIN shop.test.\napi IN A 999.1.1.1\n"), 0o644))
	r := runDnsfault(t, "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--zone", zone)
	assert.Equal(t, 2, r.code)
	assert.Regexp(t, `--zone: .*bad\.zone:2:\d+: `, r.stderr)
}
