package injector_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// timeout is how long test clients wait (DNSFAULT_TEST_PATIENCE scales
// it); drop tests wait it out.
var timeout = dnstest.Patience(2 * time.Second)

// start parses the scenario text and serves it on 127.0.0.1:0 until the
// test ends.
func start(t testing.TB, text string, cfg injector.Config) *injector.Server {
	t.Helper()
	return dnsfaulttest.Serve(t, parse(t, text), cfg)
}

// newServer parses the scenario text into a server that is not started,
// for tests that hand it queries in process (Server.Serve).
func newServer(t testing.TB, text string, cfg injector.Config) *injector.Server {
	t.Helper()
	srv, err := injector.New(cfg, parse(t, text))
	require.NoError(t, err)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

func parse(t testing.TB, text string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse(t.Name()+".yaml", []byte(text), scenarios.Options{})
	require.NoError(t, err)
	return sc
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
