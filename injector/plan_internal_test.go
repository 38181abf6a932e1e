package injector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
