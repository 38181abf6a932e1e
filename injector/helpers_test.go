package injector_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// timeout is how long test clients wait; drop tests wait it out.
const timeout = 2 * time.Second

// start parses the scenario text and serves it on 127.0.0.1:0 until the
// test ends.
func start(t testing.TB, text string, cfg injector.Config) *injector.Server {
	t.Helper()
	sc, err := scenarios.Parse(t.Name()+".yaml", []byte(text), scenarios.Options{})
	require.NoError(t, err)
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	srv, err := injector.New(cfg, sc)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return srv
}

// ask sends a query for name and qtype over network and requires an answer.
func ask(t testing.TB, srv interface{ Addr() string }, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	resp, _, err := dnstest.Exchange(srv.Addr(), network, dnstest.Query(name, qtype), timeout)
	require.NoError(t, err)
	return resp
}

// rrs renders records as their text, for comparing whole sections.
func rrs(records []dns.RR) []string {
	out := make([]string, len(records))
	for i, rr := range records {
		out[i] = rr.String()
	}
	return out
}

func mustPrefixes(t testing.TB, cidrs ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}
