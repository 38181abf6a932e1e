package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fakeDynamoDB answers GetItem as DynamoDB does, on 127.0.0.1. It closes
// each connection after its answer, so that every call resolves the
// endpoint again: with the SDK's pool of kept-alive connections, calls made
// on a connection opened before the outage would not need DNS at all (a
// real effect, worth its own scenario, but not this test's subject).
func fakeDynamoDB(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "DynamoDB_20120810.GetItem" {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("Connection", "close")
		fmt.Fprint(w, `{"Item":{"id":{"S":"42"},"status":{"S":"shipped"}}}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// build builds a command of this module or the main one into dir.
func build(t *testing.T, dir, out, pkg, in string) string {
	t.Helper()
	path := filepath.Join(dir, out)
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Dir = in
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return path
}

// TestTheSDKThroughTheDynamoDBOutage replays the bundled outage against
// the real AWS SDK for Go v2: the service is available before, not during,
// back after the record returns, and the run passes on the scenario's own
// expectations (from AWS's incident report).
func TestTheSDKThroughTheDynamoDBOutage(t *testing.T) {
	dir := t.TempDir()
	dnsfault := build(t, dir, "dnsfault", "./cmd/dnsfault", "../..")
	client := build(t, dir, "ddbclient", ".", ".")
	zone := filepath.Join(dir, "amazonaws.zone")
	// The team's own healthy answer: the endpoint is the local stand-in.
	if err := os.WriteFile(zone, []byte("$ORIGIN amazonaws.com.\n@ 300 IN SOA ns hostmaster 1 3600 600 86400 300\ndynamodb.us-east-1 60 IN A 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join(dir, "report.json")
	run := exec.Command(dnsfault, "run", "-s", "aws-dynamodb-us-east-1-2025", "--zone", zone, "--upstream", "none",
		"--speed", "1800", "--start-when", "first-query", "--report", reportFile, "--", client)
	run.Env = append(os.Environ(), "DYNAMODB_PORT="+fakeDynamoDB(t))
	out, err := run.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("dnsfault run: %v", err)
	}
	var rep struct {
		Verdict string `json:"verdict"`
		Service []struct {
			Phase        string  `json:"phase"`
			Calls        int     `json:"calls"`
			Availability float64 `json:"availability"`
		} `json:"service"`
		Recovery struct {
			State                  string   `json:"state"`
			FixedBy                string   `json:"fixed_by"`
			HealthyScenarioSeconds *float64 `json:"healthy_scenario_seconds"`
		} `json:"recovery"`
		Expectations []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"expectations"`
	}
	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	availability := map[string]float64{}
	for _, sp := range rep.Service {
		availability[sp.Phase] = sp.Availability
	}
	if availability["healthy"] < 90 || availability["records-gone"] > 10 || availability["recovered"] < 90 {
		t.Errorf("availability per phase: %v; want healthy and recovered at least 90%%, records-gone at most 10%%", availability)
	}
	if rep.Recovery.State != "recovered" || rep.Recovery.HealthyScenarioSeconds == nil || *rep.Recovery.HealthyScenarioSeconds > 20*60 {
		t.Errorf("recovery: %+v; want recovered within the 20 minutes the scenario expects", rep.Recovery)
	}
	if rep.Recovery.FixedBy != "phase negative-caches-drain, marked fixed, began" {
		t.Errorf("recovery measured from %q, not the fix", rep.Recovery.FixedBy)
	}
	if rep.Verdict != "pass" || len(rep.Expectations) < 2 {
		t.Errorf("verdict %q on %+v", rep.Verdict, rep.Expectations)
	}
}
