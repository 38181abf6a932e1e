package probe_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/injector/probe"
)

func TestEachKindOfProbe(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(ok.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(down.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	closed.Close()
	// A name resolves through the DNS server given: here one that knows
	// svc.test only.
	dnsSrv := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		if r.Question[0].Name == "svc.test." && r.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("svc.test. 60 IN A 127.0.0.1")
			m.Answer = append(m.Answer, rr)
		} else if r.Question[0].Name != "svc.test." {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	_, port, _ := net.SplitHostPort(ok.Listener.Addr().String())
	for _, tc := range []struct {
		spec string
		want string // "" for success
	}{
		{ok.URL, ""},
		{down.URL, "http 503"},
		{"http://svc.test:" + port + "/", ""},
		{"http://gone.test:" + port + "/", "no such host"},
		{"tcp://" + ok.Listener.Addr().String(), ""},
		{"tcp://" + closedAddr, "refused"},
		{"exec:true", ""},
		{"exec:echo broken; exit 3", "broken"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			check, err := probe.Parse(tc.spec, dnsSrv.Addr, netip.Addr{})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
			defer cancel()
			err = check(ctx)
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"ftp://x", "tcp://nohost", "exec:", "udp://1.2.3.4:53"} {
		_, err := probe.Parse(bad, dnsSrv.Addr, netip.Addr{})
		assert.Error(t, err, bad)
	}
}

func TestStartReportsUntilStop(t *testing.T) {
	results := make(chan probe.Result, 100)
	p := probe.Start(map[string]probe.Check{"exec:true": func(context.Context) error { return nil }}, 10*time.Millisecond, time.Second,
		func(r probe.Result) { results <- r })
	for range 3 {
		r := <-results
		assert.True(t, r.OK)
		assert.Equal(t, "exec:true", r.Probe)
	}
	p.Stop()
}
