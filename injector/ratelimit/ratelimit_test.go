package ratelimit_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dnsfault/dnsfault/injector/ratelimit"
)

func TestBurstThenSteadyRate(t *testing.T) {
	now := time.Unix(0, 0)
	l := ratelimit.New(10, 5, func() time.Time { return now })
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	allowed := 0
	for range 20 {
		if l.Allow(a) {
			allowed++
		}
	}
	assert.Equal(t, 5, allowed, "a burst of 5")
	assert.True(t, l.Allow(b), "clients have buckets of their own")
	now = now.Add(time.Second)
	allowed = 0
	for range 20 {
		if l.Allow(a) {
			allowed++
		}
	}
	assert.Equal(t, 5, allowed, "refilled at 10 a second, but never beyond the burst")
	now = now.Add(300 * time.Millisecond)
	allowed = 0
	for range 20 {
		if l.Allow(a) {
			allowed++
		}
	}
	assert.Equal(t, 3, allowed, "0.3 s at 10 a second")
}
