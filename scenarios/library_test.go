package scenarios_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// speed replays the bundled scenarios 3600 times faster: an hour a second.
const speed = 3600

// replay serves a bundled scenario at high speed on a clock the test
// moves, in front of a fake upstream that answers every name normally.
type replay struct {
	t       *testing.T
	srv     *injector.Server
	clock   *dnstest.Clock
	delayed map[string]bool // "phase/rule" of the rules with a delay
	events  chan *injector.Event
}

func startReplay(t *testing.T, name string, set map[string]string) *replay {
	t.Helper()
	up := dnstest.Start(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch q.Qtype {
		case dns.TypeA:
			rr, _ := dns.NewRR(q.Name + " 60 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		case dns.TypeAAAA:
			rr, _ := dns.NewRR(q.Name + " 60 IN AAAA 2001:db8::1")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	seed := int64(2025) // bundled scenarios draw a random seed; the shares checked below must not
	sc, err := scenarios.Open(name, scenarios.Options{Set: set, Seed: &seed})
	require.NoError(t, err)
	r := &replay{t: t, clock: dnstest.NewClock(time.Date(2025, 10, 20, 6, 43, 0, 0, time.UTC)), delayed: map[string]bool{}, events: make(chan *injector.Event, 4096)}
	for _, ph := range sc.Phases {
		for _, rule := range ph.Rules {
			r.delayed[ph.Name+"/"+rule.Name] = rule.Delay > 0
		}
	}
	observe := func(ev *injector.Event) {
		c := *ev
		c.Answer = append([]dns.RR(nil), ev.Answer...)
		select {
		case r.events <- &c:
		default: // never blocks the server; ask then reports the queries it missed
		}
	}
	// TTLs as the scenarios write them: what they say is checked here, and
	// their scaling with the speed in the injector's tests.
	r.srv = dnsfaulttest.Serve(t, sc, injector.Config{Upstream: []string{up.Addr}, Speed: speed, KeepTTLs: true, Now: r.clock.Now, Observe: observe,
		DoT: "127.0.0.1:0", DoH: "https://127.0.0.1:0/dns-query"})
	return r
}

// doh asks the replay's DoH listener for name's A records, and says what
// came back: an rcode, an HTTP status, or the timeout.
func (r *replay) doh(name string) string {
	r.t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(r.srv.CA())
	client := &http.Client{Timeout: dnstest.Patience(500 * time.Millisecond), Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	wire, err := q.Pack()
	require.NoError(r.t, err)
	resp, err := client.Post(r.srv.DoHURL(), "application/dns-message", bytes.NewReader(wire))
	if err != nil {
		return timeout
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("HTTP %d, Retry-After %s", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	m := new(dns.Msg)
	require.NoError(r.t, m.Unpack(body))
	if m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
		return answered
	}
	return dns.RcodeToString[m.Rcode]
}

// dot asks the replay's DoT listener, and says what came back.
func (r *replay) dot(name string) string {
	r.t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(r.srv.CA())
	c := &dns.Client{Net: "tcp-tls", TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, Timeout: dnstest.Patience(500 * time.Millisecond)}
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	m, _, err := c.Exchange(q, r.srv.DoTAddr())
	switch {
	case err != nil:
		return timeout
	case m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0:
		return answered
	}
	return dns.RcodeToString[m.Rcode]
}

// at moves the clock to scenario time d (wall time d/speed) and checks the
// phase in force.
func (r *replay) at(d time.Duration, phase string) {
	r.t.Helper()
	r.clock.Set(r.clock.Start().Add(d / speed))
	assert.Equal(r.t, phase, r.srv.Status().Phase, "at %v", d)
}

// Outcomes of a query, as a client sees them.
const (
	answered = "answered" // NOERROR with records
	nodata   = "NODATA"
	timeout  = "timeout"
	tc       = "truncated"
)

// ask sends n queries at once and counts their outcomes: answered, NODATA,
// an rcode's name, truncated or timeout; with slow set, answers that a
// rule delayed count as "slow". The outcomes are read from the server's
// events, not the client's clock: a busy machine changes no count.
func (r *replay) ask(from, network, name string, qtype uint16, n int, slow time.Duration) map[string]int {
	r.t.Helper()
	for range n {
		// The clients' own answers are not read: a dropped query would
		// make them wait out their timeout.
		go dnstest.ExchangeFrom(from, r.srv.Addr(), network, dnstest.Query(name, qtype), 5*time.Second)
	}
	counts := map[string]int{}
	deadline := time.After(dnstest.Patience(30 * time.Second))
	for seen := 0; seen < n; {
		var ev *injector.Event
		select {
		case ev = <-r.events:
		case <-deadline:
			r.t.Fatalf("the server saw %d of %d queries for %s", seen, n, name)
		}
		if ev.Name != dns.Fqdn(name) || ev.Type != qtype || ev.Transport.String() != network {
			continue // a query of an earlier ask
		}
		seen++
		counts[outcome(ev, slow > 0 && r.delayed[ev.Phase+"/"+ev.Rule])]++
	}
	return counts
}

// outcome is what the client of ev saw.
func outcome(ev *injector.Event, delayed bool) string {
	switch {
	case ev.Sent == injector.SentNothing:
		return timeout
	case ev.Sent == injector.SentGarbage:
		return "garbage"
	case ev.Action == "truncate" && ev.Transport == scenarios.UDP:
		return tc
	case ev.Rcode == dns.RcodeSuccess && len(ev.Answer) > 0 && delayed:
		return "slow"
	case ev.Rcode == dns.RcodeSuccess && len(ev.Answer) > 0:
		return answered
	case ev.Rcode == dns.RcodeSuccess:
		return nodata
	}
	return dns.RcodeToString[ev.Rcode]
}

// one asks once over UDP from the default address and returns the outcome.
func (r *replay) one(name string, qtype uint16) string {
	r.t.Helper()
	for outcome := range r.ask("", "udp", name, qtype, 1, 0) {
		return outcome
	}
	return ""
}

// share asserts that outcome made up about want of counts (within 0.15).
func share(t *testing.T, counts map[string]int, outcome string, want float64) {
	t.Helper()
	total := 0
	for _, c := range counts {
		total += c
	}
	assert.InDelta(t, want, float64(counts[outcome])/float64(total), 0.15, "%s in %v", outcome, counts)
}

func TestBundledScenariosDoWhatTheySay(t *testing.T) {
	t.Run("aws-dynamodb-us-east-1-2025", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "aws-dynamodb-us-east-1-2025", map[string]string{"region": "eu-west-1"})
		ddb := "dynamodb.eu-west-1.amazonaws.com."
		r.at(time.Minute, "healthy")
		assert.Equal(t, answered, r.one(ddb, dns.TypeA))
		r.at(time.Hour, "records-gone")
		assert.Equal(t, nodata, r.one(ddb, dns.TypeA))
		assert.Equal(t, nodata, r.one(ddb, dns.TypeAAAA))
		resp := ask(t, r.srv.Addr(), ddb, dns.TypeA)
		require.Len(t, resp.Ns, 1)
		assert.Equal(t, uint32(300), resp.Ns[0].(*dns.SOA).Minttl, "NODATA, not NXDOMAIN, with a 300 s negative TTL")
		assert.Equal(t, answered, r.one("dynamodb.us-east-1.amazonaws.com.", dns.TypeA), "--set region moved the fault")
		assert.Equal(t, answered, r.one("sqs.eu-west-1.amazonaws.com.", dns.TypeA), "other names answer normally")
		r.at(2*time.Hour+42*time.Minute+13*time.Minute, "negative-caches-drain")
		share(t, r.ask("", "udp", ddb, dns.TypeA, 60, 0), nodata, 1-13.0/15)
		r.at(3*time.Hour, "recovered")
		assert.Equal(t, answered, r.one(ddb, dns.TypeA))
	})
	t.Run("aws-region-dns-outage", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "aws-region-dns-outage", nil)
		r.at(time.Hour, "regional-dns-failure")
		counts := r.ask("", "udp", "ec2.us-east-1.amazonaws.com.", dns.TypeA, 80, 400*time.Millisecond)
		share(t, counts, timeout, 0.3)
		share(t, counts, "SERVFAIL", 0.7*0.4)
		share(t, counts, "slow", 0.7*0.6)
		assert.Zero(t, r.ask("", "udp", "sts.amazonaws.com.", dns.TypeA, 20, 400*time.Millisecond)[answered], "the global endpoints live in us-east-1: none answers promptly")
		assert.Equal(t, answered, r.one("ec2.eu-west-1.amazonaws.com.", dns.TypeA))
		r.at(3*time.Hour+10*time.Minute, "recovered")
		assert.Equal(t, answered, r.one("ec2.us-east-1.amazonaws.com.", dns.TypeA))

		other := startReplay(t, "aws-region-dns-outage", map[string]string{"region": "eu-west-1", "global_endpoints": "none"})
		other.at(time.Hour, "regional-dns-failure")
		assert.Equal(t, answered, other.one("sts.amazonaws.com.", dns.TypeA))
		assert.Equal(t, answered, other.one("ec2.us-east-1.amazonaws.com.", dns.TypeA))
		assert.Zero(t, other.ask("", "udp", "s3.eu-west-1.amazonaws.com.", dns.TypeA, 20, 400*time.Millisecond)[answered], "eu-west-1 is the region failing now")
	})
	t.Run("facebook-2021", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "facebook-2021", nil)
		r.at(5*time.Minute, "healthy")
		assert.Equal(t, answered, r.one("www.facebook.com.", dns.TypeA))
		r.at(15*time.Minute, "caches-expiring")
		share(t, r.ask("", "udp", "www.facebook.com.", dns.TypeA, 60, 0), "SERVFAIL", 0.35)
		r.at(time.Hour, "authoritative-unreachable")
		counts := r.ask("", "udp", "static.fbcdn.net.", dns.TypeA, 80, 0)
		share(t, counts, "SERVFAIL", 0.7)
		share(t, counts, timeout, 0.3)
		assert.Equal(t, answered, r.one("www.example.com.", dns.TypeA))
		r.at(6*time.Hour, "recovered")
		assert.Equal(t, answered, r.one("facebook.com.", dns.TypeA))
	})
	t.Run("dyn-2016", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "dyn-2016", map[string]string{"domain": "shop.example"})
		r.at(time.Hour, "first-wave")
		counts := r.ask("", "udp", "www.shop.example.", dns.TypeA, 60, 1500*time.Millisecond)
		share(t, counts, timeout, 0.8)
		share(t, counts, "slow", 0.2)
		r.at(3*time.Hour, "between-waves")
		assert.Equal(t, answered, r.one("www.shop.example.", dns.TypeA))
		r.at(5*time.Hour, "second-wave")
		share(t, r.ask("", "udp", "shop.example.", dns.TypeA, 60, 400*time.Millisecond), timeout, 0.4)
		r.at(7*time.Hour, "recovered")
		assert.Equal(t, answered, r.one("shop.example.", dns.TypeA))
	})
	t.Run("slack-dnssec-2021", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "slack-dnssec-2021", nil)
		hit := func(qtype uint16) string {
			for o := range r.ask("127.0.0.2", "udp", "app.slack.com.", qtype, 1, 0) {
				return o
			}
			return ""
		}
		r.at(30*time.Minute, "nodata-some-types")
		assert.Equal(t, nodata, hit(dns.TypeAAAA))
		assert.Equal(t, answered, hit(dns.TypeA))
		assert.Equal(t, answered, r.one("app.slack.com.", dns.TypeAAAA), "other clients are not hit")
		r.at(90*time.Minute, "nodata-more-types")
		assert.Equal(t, nodata, hit(dns.TypeA))
		r.at(10*time.Hour, "servfail-until-ds-expires")
		assert.Equal(t, "SERVFAIL", hit(dns.TypeA))
		assert.Equal(t, answered, r.one("app.slack.com.", dns.TypeA))
		r.at(27*time.Hour, "recovered")
		assert.Equal(t, answered, hit(dns.TypeA))
	})
	t.Run("slack-dnssec-2021-signed", func(t *testing.T) {
		// Its harm needs a validating resolver (injector's
		// TestSlackReplayThroughUnbound); a client that does not validate
		// is answered in every phase.
		t.Parallel()
		r := startReplay(t, "slack-dnssec-2021-signed", nil)
		for _, p := range []struct {
			at    time.Duration
			phase string
		}{{5 * time.Minute, "signed"}, {30 * time.Minute, "wrong-denial"}, {10 * time.Hour, "ds-rollback"}, {27 * time.Hour, "recovered"}} {
			r.at(p.at, p.phase)
			assert.Equal(t, answered, r.one("app.slack.com.", dns.TypeA), p.phase)
		}
	})
	t.Run("cloudflare-resolver-2025", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "cloudflare-resolver-2025", nil)
		r.at(30*time.Minute, "resolver-withdrawn")
		assert.Equal(t, map[string]int{timeout: 2}, r.ask("", "udp", "anything.example.", dns.TypeA, 2, 0))
		assert.Equal(t, map[string]int{timeout: 1}, r.ask("", "tcp", "anything.example.", dns.TypeA, 1, 0))
		assert.Equal(t, timeout, r.dot("anything.example."), "DoT went with it")
		assert.Equal(t, answered, r.doh("anything.example."), "DoH by name stayed up")
		r.at(2*time.Hour, "recovered")
		assert.Equal(t, answered, r.one("anything.example.", dns.TypeA))
		assert.Equal(t, answered, r.dot("anything.example."))
	})
	t.Run("cloudflare-resolver-2025-all-transports", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "cloudflare-resolver-2025-all-transports", nil)
		r.at(30*time.Minute, "resolver-withdrawn")
		assert.Equal(t, map[string]int{timeout: 1}, r.ask("", "udp", "anything.example.", dns.TypeA, 1, 0))
		assert.Equal(t, timeout, r.dot("anything.example."))
		assert.Equal(t, timeout, r.doh("anything.example."))
		r.at(2*time.Hour, "recovered")
		assert.Equal(t, answered, r.doh("anything.example."))
	})
	t.Run("doh-only-outage", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "doh-only-outage", nil)
		r.at(10*time.Minute, "doh-503")
		assert.Equal(t, "HTTP 503, Retry-After 30", r.doh("anything.example."))
		assert.Equal(t, answered, r.one("anything.example.", dns.TypeA), "plain DNS works: the fallback")
		assert.Equal(t, answered, r.dot("anything.example."))
		r.at(20*time.Minute, "doh-unreachable")
		assert.Equal(t, timeout, r.doh("anything.example."))
		r.at(time.Hour, "recovered")
		assert.Equal(t, answered, r.doh("anything.example."))
	})
	t.Run("akamai-edge-2021", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "akamai-edge-2021", nil)
		r.at(30*time.Minute, "edge-dns-failing")
		share(t, r.ask("", "udp", "www.example.com.edgekey.net.", dns.TypeA, 60, 0), "SERVFAIL", 0.6)
		assert.Equal(t, answered, r.one("www.example.com.", dns.TypeA), "the first hop resolves")
	})
	t.Run("slow-dns", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "slow-dns", map[string]string{"delay": "300ms", "jitter": "0s"})
		assert.Equal(t, map[string]int{"slow": 3}, r.ask("", "udp", "a.example.", dns.TypeA, 3, 300*time.Millisecond))
	})
	t.Run("flaky-dns", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "flaky-dns", map[string]string{"timeout_share": "0.1"})
		counts := r.ask("", "udp", "a.example.", dns.TypeA, 100, 0)
		share(t, counts, "SERVFAIL", 0.2)
		share(t, counts, timeout, 0.8*0.1)
		share(t, counts, answered, 0.8*0.9)
	})
	t.Run("ipv6-broken", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "ipv6-broken", nil)
		assert.Equal(t, "SERVFAIL", r.one("a.example.", dns.TypeAAAA))
		assert.Equal(t, answered, r.one("a.example.", dns.TypeA))
		e := startReplay(t, "ipv6-broken", map[string]string{"aaaa_action": "empty"})
		assert.Equal(t, nodata, e.one("a.example.", dns.TypeAAAA))
	})
	t.Run("tcp-fallback-broken", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "tcp-fallback-broken", nil)
		assert.Equal(t, tc, r.one("a.example.", dns.TypeA))
		assert.Equal(t, map[string]int{timeout: 1}, r.ask("", "tcp", "a.example.", dns.TypeA, 1, 0))
	})
	t.Run("negative-caching", func(t *testing.T) {
		t.Parallel()
		r := startReplay(t, "negative-caching", map[string]string{"target": "gone.example"})
		r.at(time.Minute, "does-not-exist")
		resp := ask(t, r.srv.Addr(), "gone.example.", dns.TypeA)
		assert.Equal(t, dns.RcodeNameError, resp.Rcode)
		require.Len(t, resp.Ns, 1)
		assert.Equal(t, uint32(3600), resp.Ns[0].Header().Ttl)
		assert.Equal(t, answered, r.one("other.example.", dns.TypeA))
		r.at(10*time.Minute, "exists-again")
		assert.Equal(t, answered, r.one("gone.example.", dns.TypeA))
	})
	t.Run("every bundled scenario is checked here", func(t *testing.T) {
		checked := map[string]bool{"demo": true} // demo has its own end-to-end tests
		for _, name := range []string{"aws-dynamodb-us-east-1-2025", "aws-region-dns-outage", "facebook-2021", "dyn-2016", "slack-dnssec-2021", "slack-dnssec-2021-signed",
			"cloudflare-resolver-2025", "cloudflare-resolver-2025-all-transports", "doh-only-outage", "akamai-edge-2021", "slow-dns", "flaky-dns", "ipv6-broken", "tcp-fallback-broken", "negative-caching"} {
			checked[name] = true
		}
		for _, name := range scenarios.Bundled() {
			assert.True(t, checked[name], fmt.Sprintf("bundled scenario %s has no replay test", name))
		}
	})
}

func ask(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	resp, _, err := dnstest.Exchange(addr, "udp", dnstest.Query(name, qtype), 2*time.Second)
	require.NoError(t, err)
	return resp
}

// TestEveryBundledOutageSaysWhatItExpects: each bundled replay of a real
// incident (a source that is not an RFC) carries expect: with a why for
// each bound, so run judges it by the incident, not only by the defaults.
func TestEveryBundledOutageSaysWhatItExpects(t *testing.T) {
	outages := 0
	for _, name := range scenarios.Bundled() {
		sc, err := scenarios.Open(name, scenarios.Options{})
		require.NoError(t, err, name)
		if !strings.HasPrefix(sc.Source, "https://") || strings.Contains(sc.Source, "rfc") {
			continue // a building block
		}
		outages++
		require.NotEmpty(t, sc.Expect.Given, "%s states no expectation", name)
		for key := range sc.Expect.Given {
			assert.NotEmpty(t, sc.Expect.Sources[key], "%s: expect %s says not where it comes from (why:)", name, key)
		}
		assert.Positive(t, sc.Expect.MaxRecovery, "%s: how long after the fix", name)
	}
	assert.GreaterOrEqual(t, outages, 8)
}
