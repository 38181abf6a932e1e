package control_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// TestMain fails the tests if a goroutine outlives them, once the HTTP
// client's idle keep-alive connections are closed.
func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

const failing = `
version: 1
name: failing
seed: 1
upstream: none
zones: [{origin: t.test., records: ["a.t.test. 60 IN A 192.0.2.1", "b.t.test. 60 IN A 192.0.2.2"]}]
phases:
  - name: calm
    duration: 1h
  - name: storm
    rules: [{name: a-fails, match: {names: [a.t.test]}, action: servfail}]
`

// fixture is a DNS server with its control API, both on loopback.
type fixture struct {
	dns    *injector.Server
	api    *control.Server
	client *control.Client
}

func startFixture(t *testing.T, text, token string) *fixture {
	t.Helper()
	sc, err := scenarios.Parse("failing.yaml", []byte(text), scenarios.Options{})
	require.NoError(t, err)
	srv := dnsfaulttest.Serve(t, sc, injector.Config{})
	api, err := control.Listen("127.0.0.1:0", srv, token, nil)
	require.NoError(t, err)
	t.Cleanup(func() { // runs before the server's: the API goes first
		ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
		defer cancel()
		assert.NoError(t, api.Shutdown(ctx))
	})
	return &fixture{dns: srv, api: api, client: control.NewClient(api.Addr(), token)}
}

func (f *fixture) rcode(t *testing.T, name string) int {
	t.Helper()
	resp, _, err := dnstest.Exchange(f.dns.Addr(), "udp", dnstest.Query(name, dns.TypeA), 2*time.Second)
	require.NoError(t, err)
	return resp.Rcode
}

func TestStatusAndPhaseJump(t *testing.T) {
	f := startFixture(t, failing, "")
	ctx := context.Background()
	st, err := f.client.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "failing", st.Scenario)
	assert.Equal(t, "calm", st.Phase)
	assert.True(t, st.FaultsActive)
	assert.Equal(t, dns.RcodeSuccess, f.rcode(t, "a.t.test."))

	st, err = f.client.Phase(ctx, "storm")
	require.NoError(t, err)
	assert.Equal(t, "storm", st.Phase)
	assert.Equal(t, dns.RcodeServerFailure, f.rcode(t, "a.t.test."))
	st, err = f.client.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Phases[1].Rules[0].Hits)

	_, err = f.client.Phase(ctx, "strom")
	assert.EqualError(t, err, `no such phase: "strom"; the scenario has: calm, storm`)
}

func TestAbortUnderLoad(t *testing.T) {
	f := startFixture(t, failing, "")
	ctx := context.Background()
	_, err := f.client.Phase(ctx, "storm")
	require.NoError(t, err)

	const clients = 16
	var (
		abortReturned atomic.Bool
		faultedBefore atomic.Int64
		after         atomic.Int64
		wrongAfter    atomic.Int64
		stop          = make(chan struct{})
		wg            sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: dnstest.Patience(2 * time.Second)}
			for i := 0; i < 5000; i++ { // bounded, whatever happens
				select {
				case <-stop:
					return
				default:
				}
				sentAfterAbort := abortReturned.Load()
				resp, _, err := c.Exchange(dnstest.Query("a.t.test.", dns.TypeA), f.dns.Addr())
				switch {
				case err != nil:
					// A datagram lost on a busy machine: no answer, right
					// or wrong. The fault is SERVFAIL, never silence.
				case sentAfterAbort:
					after.Add(1)
					if resp.Rcode != dns.RcodeSuccess {
						wrongAfter.Add(1)
					}
				case resp.Rcode == dns.RcodeServerFailure:
					faultedBefore.Add(1)
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return faultedBefore.Load() >= 500 }, dnstest.Patience(10*time.Second), time.Millisecond, "the fault is being injected under load")
	_, err = f.client.Abort(ctx)
	require.NoError(t, err)
	abortReturned.Store(true)
	require.Eventually(t, func() bool { return after.Load() >= 500 }, dnstest.Patience(10*time.Second), time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d clients: %d faulted answers before the abort, %d answers after it, %d of them wrong", clients, faultedBefore.Load(), after.Load(), wrongAfter.Load())
	assert.Zero(t, wrongAfter.Load(), "every query sent after the abort returned is answered normally")

	st, err := f.client.Resume(ctx)
	require.NoError(t, err)
	assert.True(t, st.FaultsActive)
	assert.Equal(t, dns.RcodeServerFailure, f.rcode(t, "a.t.test."))
}

func TestBadScenarioIsRefusedAndTheOldOneKeepsServing(t *testing.T) {
	f := startFixture(t, failing, "")
	ctx := context.Background()
	_, err := f.client.Phase(ctx, "storm")
	require.NoError(t, err)

	_, err = f.client.Load(ctx, "drill.yaml", []byte("version: 1\nrules:\n  - action: nxdomian\n  - {action: drop, delay: soon}\n"), nil)
	var loadErr *control.LoadError
	require.ErrorAs(t, err, &loadErr)
	assert.Equal(t, []string{
		`drill.yaml:3:13: unknown action "nxdomian" (did you mean "nxdomain"?)`,
		`drill.yaml:4:27: delay must be a duration such as 250ms, 30s or 2h30m, got "soon"`,
	}, loadErr.Errors)

	assert.Equal(t, dns.RcodeServerFailure, f.rcode(t, "a.t.test."), "the running scenario is untouched")
	st, err := f.client.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "failing", st.Scenario)
	assert.Equal(t, "storm", st.Phase)
	require.NotNil(t, st.LastReload)
	assert.False(t, st.LastReload.OK)
	assert.Len(t, st.LastReload.Errors, 2)

	// The raw answer is a 400 with the errors in JSON.
	req, _ := http.NewRequest(http.MethodPut, "http://"+f.api.Addr()+"/v1/scenario", strings.NewReader("version: 1\nrules: [{action: nxdomian}]\n"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestGoodScenarioIsSwappedIn(t *testing.T) {
	f := startFixture(t, failing, "")
	ctx := context.Background()
	next := "version: 1\nname: next\nparams: {victim: a}\nupstream: none\nzones: [{origin: t.test., records: [\"b.t.test. 60 IN A 192.0.2.2\"]}]\nrules: [{match: {names: [\"${victim}.t.test\"]}, action: refused}]\n"
	st, err := f.client.Load(ctx, "next.yaml", []byte(next), map[string]string{"victim": "b"})
	require.NoError(t, err)
	assert.Equal(t, "next", st.Scenario)
	assert.True(t, st.LastReload.OK)
	assert.Equal(t, dns.RcodeRefused, f.rcode(t, "b.t.test."), "--set reaches the loaded scenario")
}

func TestMetrics(t *testing.T) {
	f := startFixture(t, failing, "")
	ctx := context.Background()
	_, err := f.client.Phase(ctx, "storm")
	require.NoError(t, err)
	for range 7 {
		f.rcode(t, "a.t.test.")
	}
	for range 3 {
		f.rcode(t, "b.t.test.")
	}

	resp, err := http.Get("http://" + f.api.Addr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation) // Prometheus's classic names: what any scraper accepts
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)

	queries := families["dnsfault_queries_total"]
	require.NotNil(t, queries)
	counts := map[string]float64{}
	for _, m := range queries.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		key := labels["phase"] + "/" + labels["rule"] + "/" + labels["action"] + "/" + labels["rcode"] + "/" + labels["qtype"] + "/" + labels["transport"]
		counts[key] = m.Counter.GetValue()
	}
	assert.Equal(t, map[string]float64{
		"storm/a-fails/servfail/SERVFAIL/A/udp": 7,
		"storm//pass/NOERROR/A/udp":             3,
	}, counts)

	phase := families["dnsfault_phase"]
	require.NotNil(t, phase)
	require.Len(t, phase.Metric, 1)
	assert.Equal(t, "storm", labelValue(phase.Metric[0].Label, "phase"))
	assert.Equal(t, 1.0, families["dnsfault_faults_active"].Metric[0].Gauge.GetValue())
	assert.Equal(t, 0.0, families["dnsfault_aborted"].Metric[0].Gauge.GetValue())
}

func labelValue(labels []*dto.LabelPair, name string) string {
	for _, l := range labels {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestTokens(t *testing.T) {
	t.Run("beyond loopback a token is required", func(t *testing.T) {
		_, err := control.Listen("0.0.0.0:0", nil, "", nil)
		assert.EqualError(t, err, "control address 0.0.0.0:0 is not loopback: give --token (or DNSFAULT_TOKEN) so only operators can steer faults")
		assert.NoError(t, control.CheckExposure("[::1]:8053", ""))
		assert.NoError(t, control.CheckExposure("localhost:8053", ""))
		assert.Error(t, control.CheckExposure(":8053", ""), "an empty host listens everywhere")
		assert.NoError(t, control.CheckExposure("10.0.0.1:8053", "s3cret"))
	})
	f := startFixture(t, failing, "s3cret")
	ctx := context.Background()
	t.Run("the right token", func(t *testing.T) {
		_, err := f.client.Status(ctx)
		assert.NoError(t, err)
	})
	t.Run("a wrong token gets 401", func(t *testing.T) {
		_, err := control.NewClient(f.api.Addr(), "guess").Abort(ctx)
		assert.ErrorIs(t, err, control.ErrUnauthorized)
		resp, err := http.Post("http://"+f.api.Addr()+"/v1/abort", "", nil)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		st, err := f.client.Status(ctx)
		require.NoError(t, err)
		assert.False(t, st.Aborted, "a refused abort changes nothing")
	})
	t.Run("metrics need it too", func(t *testing.T) {
		resp, err := http.Get("http://" + f.api.Addr() + "/metrics")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

func TestUnreachableServerIsSaidPlainly(t *testing.T) {
	_, err := control.NewClient("127.0.0.1:1", "").Status(context.Background())
	assert.ErrorContains(t, err, "cannot reach the control API at http://127.0.0.1:1 (is `dnsfault serve` running? --control names its address)")
}

func TestScenariosSentOverTheAPICannotReadFiles(t *testing.T) {
	f := startFixture(t, failing, "")
	_, err := f.client.Load(context.Background(), "", []byte("version: 1\nzones: [{origin: x.test., file: /etc/passwd}]\n"), nil)
	var loadErr *control.LoadError
	require.ErrorAs(t, err, &loadErr)
	assert.Equal(t, []string{`scenario.yaml:2:33: zone file "/etc/passwd": a scenario sent over the control API may not name files, since the server would read them from its own disk on a client's word: put the records inline, or give the file to the server itself (dnsfault serve --zone FILE, or -s FILE)`}, loadErr.Errors)
}
