package record_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/record"
)

// TestARecordingIsASnapshot: queries recorded after Recording returns do
// not change what it returned. A forwarded query is recorded after its
// answer is sent, so a recording written while clients still query
// (--record at shutdown, or a test reading it) overlaps with Observe.
func TestARecordingIsASnapshot(t *testing.T) {
	r := record.New()
	ev := &injector.Event{Time: time.Now(), Name: "a.test.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Sent: injector.SentMessage, TTL: 60}
	r.Observe(ev)
	rec := r.Recording(time.Now())
	require.Len(t, rec.Questions, 1)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			r.Observe(ev)
		}
	}()
	assert.Equal(t, 1, rec.Questions[0].Rcodes["NOERROR"]) // read while Observe counts
	<-done
	assert.Equal(t, 1, rec.Questions[0].Rcodes["NOERROR"])
	assert.Equal(t, 101, r.Recording(time.Now()).Questions[0].Rcodes["NOERROR"])
}
