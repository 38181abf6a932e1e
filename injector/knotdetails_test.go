package injector_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// ede returns the Extended DNS Error code of m, or -1.
func ede(m *dns.Msg) int {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return int(e.InfoCode)
			}
		}
	}
	return -1
}

// TestRefusedSaysWhy: REFUSED for a name outside the zones with no
// upstream carries EDE 20 (Not Authoritative), as Knot's does; the
// allow-list's REFUSED carries EDE 18 (Prohibited).
func TestRefusedSaysWhy(t *testing.T) {
	srv := start(t, zoneOnly, injector.Config{Allow: mustPrefixes(t, "127.0.0.2/32")})
	q := dnstest.Query("elsewhere.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	resp, _, err := dnstest.ExchangeFrom("127.0.0.2", srv.Addr(), "udp", q, timeout)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, resp.Rcode)
	assert.Equal(t, int(dns.ExtendedErrorCodeNotAuthoritative), ede(resp))
	resp, _, err = dnstest.ExchangeFrom("127.0.0.1", srv.Addr(), "udp", q, timeout)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, resp.Rcode)
	assert.Equal(t, int(dns.ExtendedErrorCodeProhibited), ede(resp), "not on the allow-list")
}

// TestServerIdentity: CH TXT id.server and hostname.bind give the host's
// name (RFC 4892), as Knot's and NSD's do; the version is not told.
func TestServerIdentity(t *testing.T) {
	srv := start(t, zoneOnly, injector.Config{})
	host, err := os.Hostname()
	require.NoError(t, err)
	for _, name := range []string{"id.server.", "hostname.bind.", "version.bind.", "version.server."} {
		q := dnstest.Query(name, dns.TypeTXT)
		q.Question[0].Qclass = dns.ClassCHAOS
		resp, _, err := dnstest.Exchange(srv.Addr(), "udp", q, timeout)
		require.NoError(t, err)
		if name == "id.server." || name == "hostname.bind." {
			require.Equal(t, dns.RcodeSuccess, resp.Rcode, name)
			require.Len(t, resp.Answer, 1, name)
			assert.Equal(t, []string{host}, resp.Answer[0].(*dns.TXT).Txt, name)
			continue
		}
		assert.Equal(t, dns.RcodeRefused, resp.Rcode, name)
	}
}

// TestPaddedQueriesGetPaddedAnswersOverTLS: over DoT and DoH, the answer
// to a query with the Padding option is a multiple of 468 bytes (RFC
// 8467); over TCP, and to an unpadded query, nothing is added.
func TestPaddedQueriesGetPaddedAnswersOverTLS(t *testing.T) {
	srv, roots := startEncrypted(t)
	padded := func() *dns.Msg {
		q := dnsQuery("b.enc.test.", dns.TypeA)
		q.SetEdns0(1232, false)
		opt := q.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, 128-q.Len()-4)})
		return q
	}
	size := func(m *dns.Msg) int { // as sent: compressed, as over any stream
		m.Compress = true
		b, err := m.Pack()
		require.NoError(t, err)
		return len(b)
	}
	dot := &dns.Client{Net: "tcp-tls", TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, Timeout: timeout}
	resp, _, err := dot.Exchange(padded(), srv.DoTAddr())
	require.NoError(t, err)
	assert.Zero(t, size(resp)%468, "DoT: %d bytes", size(resp))

	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	r, err := client.Post(srv.DoHURL(), "application/dns-message", bytes.NewReader(mustPack(t, padded())))
	require.NoError(t, err)
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Zero(t, len(body)%468, "DoH: %d bytes", len(body))

	plain, _, err := dnstest.Exchange(srv.Addr(), "tcp", padded(), timeout)
	require.NoError(t, err)
	assert.Less(t, size(plain), 468, "no padding in the clear")
	resp, _, err = dot.Exchange(dnsQuery("b.enc.test.", dns.TypeA), srv.DoTAddr())
	require.NoError(t, err)
	assert.Less(t, size(resp), 468, "an unpadded query's answer is not padded")
}
