package injector

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

func TestJitterDrawsAreBoundedAndSeeded(t *testing.T) {
	spec := &scenarios.Rule{Delay: 100 * time.Millisecond, Jitter: 40 * time.Millisecond}
	draws := func(seed uint64) []time.Duration {
		r := &rulePlan{spec: spec, stream: 3}
		out := make([]time.Duration, 1000)
		for i := range out {
			out[i] = r.delay(seed)
		}
		return out
	}
	a := draws(9)
	assert.Equal(t, a, draws(9), "the same seed draws the same delays")
	assert.NotEqual(t, a, draws(10))
	lo, hi := time.Hour, time.Duration(0)
	for _, d := range a {
		lo, hi = min(lo, d), max(hi, d)
	}
	assert.GreaterOrEqual(t, lo, 60*time.Millisecond)
	assert.LessOrEqual(t, hi, 140*time.Millisecond)
	assert.Less(t, lo, 65*time.Millisecond, "draws reach near the low end")
	assert.Greater(t, hi, 135*time.Millisecond, "draws reach near the high end")
}

func TestDelayIsNeverNegative(t *testing.T) {
	r := &rulePlan{spec: &scenarios.Rule{Delay: 10 * time.Millisecond, Jitter: time.Second}}
	for range 1000 {
		assert.GreaterOrEqual(t, r.delay(1), time.Duration(0))
	}
}

// TestDecideWaitsTheRulesDraws: a delayed UDP query waits the delay its
// rule draws, jitter included, in the order the rule draws them: the same
// on every run with the seed, whatever the machine's load.
func TestDecideWaitsTheRulesDraws(t *testing.T) {
	sc, err := scenarios.Parse("j.yaml", []byte(`
version: 1
seed: 5
upstream: none
rules: [{match: {names: [j.test]}, action: refused, delay: 200ms, jitter: 200ms}]
`), scenarios.Options{})
	require.NoError(t, err)
	srv, err := New(Config{}, sc)
	require.NoError(t, err)
	defer srv.Shutdown(context.Background())
	pl := srv.pipe.state.Load().plan
	twin := &rulePlan{spec: pl.phases[0].rules[0].spec, stream: pl.phases[0].rules[0].stream}
	lo, hi := time.Hour, time.Duration(0)
	for range 20 {
		q := srv.pipe.newQuery(dnstest.NewRecorder(nil), dnstest.Query("j.test.", dns.TypeA), scenarios.UDP)
		v := srv.pipe.decide(q)
		want := twin.delay(pl.seed)
		assert.Equal(t, want, v.wait)
		lo, hi = min(lo, v.wait), max(hi, v.wait)
	}
	assert.Greater(t, hi-lo, 100*time.Millisecond, "jitter spreads the delays")
}
