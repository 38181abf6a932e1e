package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
)

func TestRecordThenDeps(t *testing.T) {
	t.Parallel()
	up := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		name := r.Question[0].Name
		switch name {
		case "api.shop.example.":
			cname, _ := dns.NewRR("api.shop.example. 300 IN CNAME lb-1.us-east-1.elb.amazonaws.com.")
			a, _ := dns.NewRR("lb-1.us-east-1.elb.amazonaws.com. 60 IN A 3.3.3.3")
			m.Answer = []dns.RR{cname, a}
		default:
			a, _ := dns.NewRR(name + " 60 IN A 192.0.2.9")
			m.Answer = []dns.RR{a}
		}
		w.WriteMsg(m)
	})
	dir := t.TempDir()
	recording := filepath.Join(dir, "deps.json")
	s := serve(t, "--upstream", up.Addr, "--record", recording)
	for _, name := range []string{"dynamodb.us-east-1.amazonaws.com.", "api.shop.example.", "storage.googleapis.com.", "api.stripe.com."} {
		_, _, err := dnstest.Exchange(s.addr, "udp", dnstest.Query(name, dns.TypeA), 2*time.Second)
		require.NoError(t, err)
	}
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	<-s.done
	require.FileExists(t, recording, "the recording is written at shutdown")

	r := runDnsfault(t, "deps", recording)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "2 of 4 dependencies resolve into AWS us-east-1.")
	assert.Contains(t, r.stdout, "api.shop.example.")
	assert.Contains(t, r.stdout, "lb-1.us-east-1.elb.amazonaws.com.")

	svg := filepath.Join(dir, "deps.svg")
	r = runDnsfault(t, "deps", recording, "--json", "--svg", svg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "dnsfault deps: wrote "+svg+" (4 names)")
	var m struct {
		Summary string `json:"summary"`
		Groups  []struct {
			Provider string   `json:"provider"`
			Names    []string `json:"names"`
		} `json:"groups"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
	assert.Equal(t, "AWS", m.Groups[0].Provider)
	picture, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.Contains(t, string(picture), "storage.googleapis.com")

	r = runDnsfault(t, "deps", recording, "--scaffold", "region-outage", "--region", "us-east-1")
	require.Equal(t, 0, r.code, r.stderr)
	scenario := filepath.Join(dir, "outage.yaml")
	require.NoError(t, os.WriteFile(scenario, []byte(r.stdout), 0o644))
	v := runDnsfault(t, "validate", scenario)
	assert.Equal(t, 0, v.code, v.stderr+r.stdout)
	assert.True(t, strings.Contains(r.stdout, "dynamodb.us-east-1.amazonaws.com") && strings.Contains(r.stdout, "api.shop.example"))

	r = runDnsfault(t, "deps", recording, "--scaffold", "region-outage")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--scaffold region-outage needs --region")
}
