package dnstest

import (
	"os"
	"strconv"
	"time"
)

// patience is DNSFAULT_TEST_PATIENCE: how many times longer than written
// every test waits for something that should happen (a server to start,
// an answer, a condition to hold). It is the one scale factor of the
// suite's timeouts: 1 by default, more on a machine shared with heavy
// jobs. Bounds a test asserts (an answer within 2 s) are not scaled.
var patience = func() float64 {
	f, err := strconv.ParseFloat(os.Getenv("DNSFAULT_TEST_PATIENCE"), 64)
	if err != nil || f < 1 {
		return 1
	}
	return f
}()

// Patience is d, scaled by DNSFAULT_TEST_PATIENCE: how long a test waits
// for an event before it gives up.
func Patience(d time.Duration) time.Duration { return time.Duration(float64(d) * patience) }
