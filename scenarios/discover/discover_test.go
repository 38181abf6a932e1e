package discover_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/record"
	"github.com/dnsfault/dnsfault/scenarios"
	"github.com/dnsfault/dnsfault/scenarios/discover"
)

// internet is what the fake upstream answers: realistic names, some behind
// CNAME chains, as a recursive resolver returns them.
var internet = map[string][]string{
	"dynamodb.us-east-1.amazonaws.com.": {"dynamodb.us-east-1.amazonaws.com. 5 IN A 3.218.180.1"},
	"sqs.us-east-1.amazonaws.com.":      {"sqs.us-east-1.amazonaws.com. 60 IN A 3.218.180.2"},
	"my-bucket.s3.amazonaws.com.":       {"my-bucket.s3.amazonaws.com. 60 IN CNAME s3-1-w.amazonaws.com.", "s3-1-w.amazonaws.com. 5 IN A 52.216.0.1"},
	"api.shop.example.":                 {"api.shop.example. 300 IN CNAME shop-lb-123.us-east-1.elb.amazonaws.com.", "shop-lb-123.us-east-1.elb.amazonaws.com. 60 IN A 3.3.3.3"},
	"cdn.shop.example.":                 {"cdn.shop.example. 300 IN CNAME shop.example.edgekey.net.", "shop.example.edgekey.net. 300 IN CNAME e1.a.akamaiedge.net.", "e1.a.akamaiedge.net. 20 IN A 23.1.1.1"},
	"pay.eu.example.":                   {"pay.eu.example. 300 IN CNAME pay-lb.eu-west-1.elb.amazonaws.com.", "pay-lb.eu-west-1.elb.amazonaws.com. 60 IN A 34.1.1.1"},
	"storage.googleapis.com.":           {"storage.googleapis.com. 300 IN A 142.250.1.1"},
	"api.stripe.com.":                   {"api.stripe.com. 300 IN A 54.187.1.1"},
}

func fakeInternet(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	records, ok := internet[strings.ToLower(r.Question[0].Name)]
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	for _, text := range records {
		rr, _ := dns.NewRR(text)
		if t := rr.Header().Rrtype; t == r.Question[0].Qtype || t == dns.TypeCNAME {
			m.Answer = append(m.Answer, rr)
		}
	}
	w.WriteMsg(m)
}

func serveScenario(t *testing.T, sc *scenarios.Scenario, cfg injector.Config) *injector.Server {
	return dnsfaulttest.Serve(t, sc, cfg)
}

func query(t *testing.T, addr, name string) *dns.Msg {
	resp, _, err := dnstest.Exchange(addr, "udp", dnstest.Query(name, dns.TypeA), 2*time.Second)
	require.NoError(t, err)
	return resp
}

// TestRecordMapScaffoldReplay records a service's queries through a fake
// upstream, maps them, scaffolds a us-east-1 outage, validates it, and
// replays it offline: recorded answers for healthy names, the fault for
// the region's.
func TestRecordMapScaffoldReplay(t *testing.T) {
	up := dnstest.Start(t, fakeInternet)
	recorder := record.New()
	plain, err := scenarios.Parse("plain.yaml", []byte("version: 1\n"), scenarios.Options{})
	require.NoError(t, err)
	srv := serveScenario(t, plain, injector.Config{Upstream: []string{up.Addr}, Observe: recorder.Observe})
	for name := range internet {
		for range 2 {
			require.Equal(t, dns.RcodeSuccess, query(t, srv.Addr(), name).Rcode)
		}
	}
	assert.Equal(t, dns.RcodeNameError, query(t, srv.Addr(), "gone.shop.example.").Rcode)
	// A forwarded query is recorded just after its answer is sent: stop
	// the server, which waits for them, before reading the recording, as
	// --record does.
	require.NoError(t, srv.Shutdown(context.Background()))

	// A recording survives a round trip through its file format.
	var file bytes.Buffer
	require.NoError(t, writeRecording(recorder, &file))
	rec, err := discover.ReadRecording(&file)
	require.NoError(t, err)
	require.Len(t, rec.Questions, len(internet)+1)

	m := discover.Build(rec)
	assert.Equal(t, "4 of 9 dependencies resolve into AWS us-east-1", m.Summary)
	where := map[string]discover.Dependency{}
	for _, d := range m.Dependencies {
		where[d.Name] = d
	}
	assert.Equal(t, discover.Location{Provider: "AWS", Region: "us-east-1", Service: "elb"}, where["api.shop.example."].Location, "a vanity name lives where its chain ends")
	assert.Equal(t, []string{"shop.example.edgekey.net.", "e1.a.akamaiedge.net."}, where["cdn.shop.example."].Chain)
	assert.Equal(t, "Akamai", where["cdn.shop.example."].Provider)
	assert.Equal(t, "eu-west-1", where["pay.eu.example."].Region)
	assert.Equal(t, discover.Location{Provider: "AWS", Region: "us-east-1", Service: "s3"}, where["my-bucket.s3.amazonaws.com."].Location)
	assert.Equal(t, 1, where["gone.shop.example."].Failures)

	out, err := discover.Scaffold(rec, discover.Target{Provider: "AWS", Region: "us-east-1"}, "test.json")
	require.NoError(t, err)
	sc, err := scenarios.Parse("scaffold.yaml", out, scenarios.Options{})
	require.NoError(t, err, string(out))
	replay := serveScenario(t, sc, injector.Config{Upstream: []string{"none"}})
	require.NoError(t, replay.JumpTo("outage", "test"))
	for _, name := range []string{"dynamodb.us-east-1.amazonaws.com.", "sqs.us-east-1.amazonaws.com.", "my-bucket.s3.amazonaws.com.", "api.shop.example."} {
		assert.Equal(t, "SERVFAIL", dns.RcodeToString[query(t, replay.Addr(), name).Rcode], name)
	}
	for _, name := range []string{"cdn.shop.example.", "pay.eu.example.", "storage.googleapis.com.", "api.stripe.com."} {
		resp := query(t, replay.Addr(), name)
		assert.Equal(t, "NOERROR", dns.RcodeToString[resp.Rcode], name)
		got := map[string]bool{}
		for _, rr := range resp.Answer {
			got[strings.ReplaceAll(rr.String(), "\t", " ")] = true
		}
		for _, want := range internet[name] {
			rr, _ := dns.NewRR(want)
			assert.True(t, got[strings.ReplaceAll(rr.String(), "\t", " ")], "%s: the recorded answer %q, offline", name, want)
		}
	}
	assert.Equal(t, "NXDOMAIN", dns.RcodeToString[query(t, replay.Addr(), "gone.shop.example.").Rcode])

	_, err = discover.Scaffold(rec, discover.Target{Provider: "Azure"}, "test.json")
	assert.ErrorIs(t, err, discover.ErrNoTarget)
}

func TestThePictureNamesEveryGroupAndName(t *testing.T) {
	rec := discover.Recording{Version: 1, Questions: []discover.Entry{
		{Name: "dynamodb.us-east-1.amazonaws.com.", Type: "A", Count: 3, Rcodes: map[string]int{"NOERROR": 3}},
		{Name: "myaccount.blob.core.windows.net.", Type: "A", Count: 1, Rcodes: map[string]int{"NOERROR": 1}},
		{Name: "api.stripe.com.", Type: "A", Count: 2, Rcodes: map[string]int{"NOERROR": 1, "SERVFAIL": 1}},
		{Name: "www.shop.example.", Type: "A", Count: 1, Rcodes: map[string]int{"NOERROR": 1}, Answers: []string{"www.shop.example. 60 IN CNAME shop.s3.eu-west-1.amazonaws.com."}},
	}}
	var svg bytes.Buffer
	require.NoError(t, discover.Build(rec).WriteSVG(&svg))
	out := svg.String()
	assert.True(t, strings.HasPrefix(out, "<svg "))
	for _, want := range []string{
		"1 of 4 dependencies resolve into", // the summary
		`data-provider="AWS" data-region="us-east-1"`, "AWS · us-east-1 (1)", "dynamodb.us-east-1.amazonaws.com",
		`data-provider="Azure"`, "myaccount.blob.core.windows.net",
		`data-provider="stripe.com"`, "api.stripe.com", "✗ 1 of 2 failed",
		"www.shop.example", "VIA (CNAME)", "→ shop.s3.eu-west-1.amazonaws.com",
	} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, 1, strings.Count(out, `class="failed"`), "only the name that failed is marked")
	assert.Equal(t, 4, strings.Count(out, `<g class="group"`))
}

func writeRecording(r *record.Recorder, w *bytes.Buffer) error {
	rec := r.Recording(time.Now())
	return jsonEncode(w, rec)
}
