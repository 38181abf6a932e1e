package injector

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/scenarios"
)

// panics is a fault with a bug.
type panics struct{}

func (panics) Act(context.Context, *fault.Request, fault.Source) (fault.Outcome, error) {
	panic("a bug in a fault")
}

func TestAPanicIsAnsweredServfailAndTheServerGoesOn(t *testing.T) {
	sc, err := scenarios.Parse("p.yaml", []byte("version: 1\nupstream: none\nzones: [{origin: p.test., records: [\"ok.p.test. 60 IN A 192.0.2.1\"]}]\nrules: [{match: {names: [bug.p.test]}, action: servfail}]\n"), scenarios.Options{})
	require.NoError(t, err)
	srv, err := New(Config{Listen: "127.0.0.1:0"}, sc)
	require.NoError(t, err)
	srv.pipe.state.Load().plan.phases[0].rules[0].fault = panics{}
	require.NoError(t, srv.Start())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
		defer cancel()
		srv.Shutdown(ctx)
	}()

	for _, network := range []string{"udp", "tcp"} {
		resp, _, err := dnstest.Exchange(srv.Addr(), network, dnstest.Query("bug.p.test.", dns.TypeA), 2*time.Second)
		require.NoError(t, err, network)
		assert.Equal(t, dns.RcodeServerFailure, resp.Rcode)
	}
	assert.Equal(t, 2.0, testutil.ToFloat64(srv.pipe.obs.metrics.panics), "each panic is counted")
	assert.Equal(t, uint64(2), srv.Status().Panics)
	resp, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("ok.p.test.", dns.TypeA), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "the server still serves")
}
