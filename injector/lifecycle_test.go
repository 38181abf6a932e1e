package injector_test

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// server, upstream exchange and delayed query must end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestShutdownAnswersQueriesInFlight(t *testing.T) {
	up := dnstest.Start(t, dnstest.Silent)
	for _, tc := range []struct {
		desc, scenario, name string
		cfg                  injector.Config
		waiting              func(*injector.Server) bool
	}{
		{"held by a delay", "version: 1\nupstream: none\nrules: [{match: {names: [held.test]}, action: servfail, delay: 1h}]\n", "held.test.",
			injector.Config{}, func(srv *injector.Server) bool { return srv.InFlight() == 2 }},
		{"waiting on a silent upstream", "version: 1\n", "waiting.test.",
			injector.Config{Upstream: []string{up.Addr}, UpstreamTimeout: time.Hour}, func(*injector.Server) bool { return len(up.Received()) == 2 }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			sc, err := scenarios.Parse("inflight.yaml", []byte(tc.scenario), scenarios.Options{})
			require.NoError(t, err)
			tc.cfg.Listen = "127.0.0.1:0"
			srv, err := injector.New(tc.cfg, sc)
			require.NoError(t, err)
			require.NoError(t, srv.Start())

			answers := make(chan *dns.Msg, 2)
			for _, network := range []string{"udp", "tcp"} {
				go func() {
					resp, _, _ := dnstest.Exchange(srv.Addr(), network, dnstest.Query(tc.name, dns.TypeA), 10*time.Second)
					answers <- resp
				}()
			}
			require.Eventually(t, func() bool { return tc.waiting(srv) }, dnstest.Patience(5*time.Second), time.Millisecond, "both queries wait")

			ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
			defer cancel()
			require.NoError(t, srv.Shutdown(ctx))
			for range 2 {
				resp := <-answers
				require.NotNil(t, resp, "a query in flight was answered, not cut off")
				assert.Equal(t, dns.RcodeServerFailure, resp.Rcode)
			}
			assert.Zero(t, srv.InFlight())
			assert.NoError(t, srv.Shutdown(ctx), "a second Shutdown is harmless")
		})
	}
}

func TestNonLoopbackListenNeedsAnAllowList(t *testing.T) {
	sc, err := scenarios.Parse("s.yaml", []byte("version: 1\nupstream: none\n"), scenarios.Options{})
	require.NoError(t, err)
	_, err = injector.New(injector.Config{Listen: "0.0.0.0:0"}, sc)
	assert.EqualError(t, err, "listen address 0.0.0.0:0 is not loopback: give --allow CIDR for the clients to answer, so dnsfault is not an open resolver")
}
