package injector_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// encrypted serves a zone with a rule per transport: DoH fails, the
// others do not.
const encrypted = `
version: 1
name: encrypted
upstream: none
zones: [{origin: enc.test., records: ["a.enc.test. 300 IN A 192.0.2.1", "b.enc.test. 60 IN A 192.0.2.2"]}]
rules:
  - {name: doh-down, match: {names: [a.enc.test], transport: doh}, action: servfail}
  - {name: doh-503, match: {names: [busy.enc.test], transport: doh}, action: http-status, status: 503, retry_after: 30s}
  - {name: gone, match: {names: [gone.enc.test]}, action: drop}
  - {name: tc, match: {names: [b.enc.test]}, action: truncate}
`

func startEncrypted(t *testing.T) (*injector.Server, *x509.CertPool) {
	t.Helper()
	srv := start(t, encrypted, injector.Config{DoT: "127.0.0.1:0", DoH: "https://127.0.0.1:0/dns-query"})
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(srv.CA()), "a CA made at start")
	return srv, roots
}

// TestDoTAndDoHServeThePipeline: a crypto/tls DoT client and net/http DoH
// over HTTP/2 (GET and POST) get answers that trust the CA made at start;
// a transport-scoped rule faults DoH only.
func TestDoTAndDoHServeThePipeline(t *testing.T) {
	srv, roots := startEncrypted(t)

	dot := &dns.Client{Net: "tcp-tls", TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, Timeout: timeout}
	resp, _, err := dot.Exchange(dnsQuery("a.enc.test.", dns.TypeA), srv.DoTAddr())
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "the DoH rule leaves DoT alone")
	resp, _, err = dot.Exchange(dnsQuery("b.enc.test.", dns.TypeA), srv.DoTAddr())
	require.NoError(t, err)
	assert.False(t, resp.Truncated, "truncate answers in full over DoT, as over TCP")
	assert.Len(t, resp.Answer, 1)
	assert.Equal(t, dns.RcodeSuccess, ask(t, srv, "udp", "a.enc.test.", dns.TypeA).Rcode, "and UDP")

	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	post := func(name string) (*http.Response, []byte) {
		wire, err := dnsQuery(name, dns.TypeA).Pack()
		require.NoError(t, err)
		r, err := client.Post(srv.DoHURL(), "application/dns-message", bytes.NewReader(wire))
		require.NoError(t, err)
		defer r.Body.Close()
		body, _ := io.ReadAll(r.Body)
		return r, body
	}
	r, body := post("a.enc.test.")
	assert.Equal(t, "HTTP/2.0", r.Proto)
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, "application/dns-message", r.Header.Get("Content-Type"))
	m := new(dns.Msg)
	require.NoError(t, m.Unpack(body))
	assert.Equal(t, dns.RcodeServerFailure, m.Rcode, "the DoH rule")

	wire, err := dnsQuery("b.enc.test.", dns.TypeA).Pack()
	require.NoError(t, err)
	r, err = client.Get(srv.DoHURL() + "?dns=" + base64.RawURLEncoding.EncodeToString(wire))
	require.NoError(t, err)
	body, _ = io.ReadAll(r.Body)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, "max-age=60", r.Header.Get("Cache-Control"), "the answer's lowest TTL (RFC 8484)")
	require.NoError(t, m.Unpack(body))
	assert.Len(t, m.Answer, 1, "truncate answers in full over DoH")

	r, _ = post("busy.enc.test.")
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.Equal(t, "30", r.Header.Get("Retry-After"))

	short := &http.Client{Timeout: dnstest.Patience(300 * time.Millisecond), Transport: client.Transport}
	_, err = short.Post(srv.DoHURL(), "application/dns-message", bytes.NewReader(mustPack(t, dnsQuery("gone.enc.test.", dns.TypeA))))
	assert.Error(t, err, "drop: no answer, the client gives up")

	st := srv.Status()
	hits := map[string]uint64{}
	for _, r := range st.Phases[0].Rules {
		hits[r.Name] = r.Hits
	}
	assert.Equal(t, uint64(1), hits["doh-down"])
	assert.Equal(t, uint64(1), hits["doh-503"])
}

func dnsQuery(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0 // RFC 8484: DoH clients use ID 0, so answers cache
	return m
}

func mustPack(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	require.NoError(t, err)
	return b
}

// TestTLSFailBreaksTheHandshake: tls-fail closes the handshake, or shows a
// certificate for another name, or holds it; as Go's clients report it.
func TestTLSFailBreaksTheHandshake(t *testing.T) {
	srv, roots := startEncrypted(t)
	dial := func() error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", srv.DoTAddr(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err == nil {
			c.Close()
		}
		return err
	}
	require.NoError(t, dial(), "no rule: the handshake succeeds")

	require.NoError(t, srv.AddRule(adHoc(t, "name: hs\nmatch: {transport: dot}\naction: tls-fail\n"), "test"))
	err := dial()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "remote error: tls:", "close: the server's alert")
	srv.ResetRules("test")

	require.NoError(t, srv.AddRule(adHoc(t, "name: hs\nmatch: {transport: [dot, doh]}\naction: tls-fail\ntls: wrong-name\n"), "test"))
	err = dial()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x509: cannot validate certificate for 127.0.0.1", "a certificate for another name")
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	_, err = client.Post(srv.DoHURL(), "application/dns-message", bytes.NewReader(mustPack(t, dnsQuery("b.enc.test.", dns.TypeA))))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x509: cannot validate certificate for 127.0.0.1", "DoH too")
	assert.Equal(t, uint64(2), srv.Status().AdHoc[0].Hits)
	srv.ResetRules("test")

	require.NoError(t, srv.AddRule(adHoc(t, "name: hs\nmatch: {transport: dot}\naction: tls-fail\ntls: slow\ndelay: 100ms\n"), "test"))
	require.NoError(t, dial(), "slow: held, then it succeeds")
	assert.Equal(t, uint64(1), srv.Status().AdHoc[0].Hits)
}

// TestEveryActionOverEveryTransport: each action answers over the
// transport the query came on, as it does over UDP, TCP's way (no
// truncation) for the streams.
func TestEveryActionOverEveryTransport(t *testing.T) {
	srv := start(t, `
version: 1
upstream: none
zones: [{origin: act.test., records: ["*.act.test. 60 IN A 192.0.2.1"]}]
rules:
  - {match: {names: [nx.act.test]}, action: nxdomain}
  - {match: {names: [fail.act.test]}, action: servfail}
  - {match: {names: [refused.act.test]}, action: refused}
  - {match: {names: [notimp.act.test]}, action: notimp}
  - {match: {names: [formerr.act.test]}, action: formerr}
  - {match: {names: [empty.act.test]}, action: empty}
  - {match: {names: [wrong.act.test]}, action: answer, records: ["@ 30 IN A 203.0.113.9"]}
  - {match: {names: [tc.act.test]}, action: truncate}
  - {match: {names: [slow.act.test]}, action: pass, delay: 50ms}
  - {match: {names: [garbage.act.test]}, action: garbage}
  - {match: {names: [drop.act.test]}, action: drop}
`, injector.Config{DoT: "127.0.0.1:0", DoH: "https://127.0.0.1:0/dns-query"})
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(srv.CA()))
	dot := &dns.Client{Net: "tcp-tls", TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, Timeout: dnstest.Patience(500 * time.Millisecond)}
	web := &http.Client{Timeout: dnstest.Patience(500 * time.Millisecond), Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	doh := func(name string) (*dns.Msg, error) {
		r, err := web.Post(srv.DoHURL(), "application/dns-message", bytes.NewReader(mustPack(t, dnsQuery(name, dns.TypeA))))
		if err != nil {
			return nil, err
		}
		defer r.Body.Close()
		body, _ := io.ReadAll(r.Body)
		m := new(dns.Msg)
		return m, m.Unpack(body)
	}
	exchanges := map[string]func(string) (*dns.Msg, error){
		"dot": func(name string) (*dns.Msg, error) {
			m, _, err := dot.Exchange(dnsQuery(name, dns.TypeA), srv.DoTAddr())
			return m, err
		},
		"doh": doh,
	}
	for transport, exchange := range exchanges {
		for name, want := range map[string]string{
			"ok": "NOERROR 1", "nx": "NXDOMAIN 0", "fail": "SERVFAIL 0", "refused": "REFUSED 0", "notimp": "NOTIMP 0",
			"formerr": "FORMERR 0", "empty": "NOERROR 0", "wrong": "NOERROR 1", "tc": "NOERROR 1", "slow": "NOERROR 1",
		} {
			m, err := exchange(name + ".act.test.")
			require.NoError(t, err, "%s over %s", name, transport)
			assert.Equal(t, want, fmt.Sprintf("%s %d", dns.RcodeToString[m.Rcode], len(m.Answer)), "%s over %s", name, transport)
			assert.False(t, m.Truncated, "%s over %s", name, transport)
		}
		_, err := exchange("garbage.act.test.")
		assert.Error(t, err, "garbage over %s does not parse", transport)
		_, err = exchange("drop.act.test.")
		assert.Error(t, err, "drop over %s: no answer", transport)
	}
}

// TestAnAdHocTLSFailEndsWithItsTime: the handshake is decided as a query
// is (one decision): an ad-hoc tls-fail rule whose `for` is up by the
// server's clock fails no more handshakes.
func TestAnAdHocTLSFailEndsWithItsTime(t *testing.T) {
	clock := dnstest.NewClock(epoch)
	srv := start(t, encrypted, injector.Config{DoT: "127.0.0.1:0", Now: clock.Now})
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(srv.CA()))
	dial := func() error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", srv.DoTAddr(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err == nil {
			c.Close()
		}
		return err
	}
	require.NoError(t, srv.AddRule(adHoc(t, "name: hs\nmatch: {transport: dot}\naction: tls-fail\nfor: 1h\n"), "test"))
	require.Error(t, dial(), "within its hour")
	clock.Advance(2 * time.Hour)
	assert.NoError(t, dial(), "its hour is up")
}
