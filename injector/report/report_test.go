package report_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/report"
	"github.com/dnsfault/dnsfault/scenarios"
)

var t0 = time.Date(2025, 10, 20, 6, 48, 0, 0, time.UTC)

const twoPhases = `version: 1
phases:
  - name: healthy
    duration: 10s
  - name: outage
    duration: 10s
    rules: [{name: ddb, match: {names: [ddb.test]}, action: servfail}, {name: never, match: {names: [other.test]}, action: drop}]
expect: {max_amplification: 3, max_qps: 5, honours_ttl: true}
`

func collector(t *testing.T) *report.Collector {
	sc, err := scenarios.Parse("s.yaml", []byte(twoPhases), scenarios.Options{})
	require.NoError(t, err)
	return report.NewCollector(sc, sc.Timeline(t0, 1))
}

// event is a query for name at offset at, answered with rcode and ttl
// (with a record, when NOERROR with a TTL).
func event(at time.Duration, name, rule string, rcode int, ttl int64) *injector.Event {
	ev := &injector.Event{Time: t0.Add(at), Client: netip.MustParseAddr("127.0.0.1"), Name: name, Type: dns.TypeA,
		Rule: rule, Action: "servfail", Phase: "outage", Sent: injector.SentMessage, Rcode: rcode, TTL: ttl}
	if rcode == dns.RcodeSuccess && ttl > 0 {
		rr, _ := dns.NewRR(fmt.Sprintf("%s %d IN A 192.0.2.1", name, ttl))
		ev.Answer = []dns.RR{rr}
	}
	return ev
}

func TestFiguresAndExpectations(t *testing.T) {
	c := collector(t)
	// Healthy: ddb.test asked once every 2 s with a 60 s TTL: re-asked early each time.
	for at := time.Duration(0); at < 10*time.Second; at += 2 * time.Second {
		c.Observe(event(at, "ddb.test.", "", dns.RcodeSuccess, 60))
	}
	// Outage: SERVFAIL (no TTL), asked 10 times in one second: retries and a peak.
	for i := 0; i < 10; i++ {
		c.Observe(event(10*time.Second+time.Duration(i)*50*time.Millisecond, "ddb.test.", "ddb", dns.RcodeServerFailure, -1))
	}
	c.Observe(event(3*time.Second, "www.test.", "", dns.RcodeSuccess, 60))
	r := c.Report(report.Run{Seed: 1, Speed: 1, Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})

	require.Len(t, r.Clients, 1)
	b := r.Clients[0]
	assert.Equal(t, "ddb.test.", b.Name)
	require.Len(t, b.Phases, 2)
	healthy, outage := b.Phases[0], b.Phases[1]
	assert.Equal(t, report.NamePhase{Phase: "healthy", Queries: 5, QPS: 0.5, PeakQPS: 1, Retries: 0, NewLookups: 5, EarlyReasks: 4}, healthy)
	require.NotNil(t, outage.Amplification)
	assert.Equal(t, 2.0, *outage.Amplification, "1 q/s against 0.5 q/s")
	assert.Equal(t, 10, outage.PeakQPS)
	assert.Equal(t, 9, outage.Retries, "all but the first, which followed a good answer")
	assert.Equal(t, 1, outage.NewLookups)
	require.NotNil(t, outage.PeakAmplification)
	assert.Equal(t, 20.0, *outage.PeakAmplification, "10 queries in a second against 0.5 q/s")
	assert.Equal(t, 1, outage.EarlyReasks, "the first outage query came before the healthy answer's TTL ran out")

	assert.Equal(t, []report.NameCount{{Name: "www.test.", Queries: 1}}, r.Unmatched)
	assert.Equal(t, []report.RuleRef{{Phase: "outage", Rule: "never"}}, r.Unexercised)
	byName := map[string]report.Expectation{}
	for _, e := range r.Expectations {
		byName[e.Name] = e
	}
	assert.True(t, byName["max_amplification"].OK)
	assert.False(t, byName["max_qps"].OK)
	assert.Equal(t, []string{"ddb.test. in phase outage: 10 queries in one second"}, byName["max_qps"].Breaches)
	assert.False(t, byName["honours_ttl"].OK)
	assert.Equal(t, "expectation-failed", r.Verdict, "a broken expectation comes before an unexercised rule")
	assert.Equal(t, report.ExitExpectation, r.ExitCode)

	var text strings.Builder
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "expect max_qps: 5: BROKEN")
	assert.Contains(t, text.String(), "Rules never exercised: never (phase outage).")
}

func TestAmplificationWithoutABaselineIsALowerBound(t *testing.T) {
	c := collector(t)
	for i := 0; i < 30; i++ {
		c.Observe(event(10*time.Second+time.Duration(i)*300*time.Millisecond, "ddb.test.", "ddb", dns.RcodeServerFailure, -1))
	}
	r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	np := r.Clients[0].Phases[0]
	assert.True(t, np.BaselineAssumed)
	assert.Equal(t, 30.0, *np.Amplification, "3 q/s against an assumed 1 query in 10 s")
	assert.False(t, r.Expectations[0].OK)
}

func TestCommandFailureWins(t *testing.T) {
	r := collector(t).Report(report.Run{Command: []string{"t"}, CommandExitCode: 3, Started: t0, Ended: t0.Add(time.Second)})
	assert.Equal(t, "command-failed", r.Verdict)
	assert.Equal(t, 3, r.ExitCode)
	assert.False(t, r.Phases[1].Reached, "a one-second run never reached the outage")
}

// TestABurstBreaksThePeakBoundButNotTheAverage: 20 queries in the first
// second of a 10 s outage average 2 q/s, twice a 1 q/s baseline, but the
// busiest second is 20 times it.
func TestABurstBreaksThePeakBoundButNotTheAverage(t *testing.T) {
	sc, err := scenarios.Parse("s.yaml", []byte(strings.Replace(twoPhases, "expect: {max_amplification: 3, max_qps: 5, honours_ttl: true}", "expect: {max_amplification: 3, max_peak_amplification: 10}", 1)), scenarios.Options{})
	require.NoError(t, err)
	c := report.NewCollector(sc, sc.Timeline(t0, 1))
	for i := range 10 {
		c.Observe(event(time.Duration(i)*time.Second, "ddb.test.", "", dns.RcodeSuccess, 60))
	}
	for i := range 20 {
		c.Observe(event(10*time.Second+time.Duration(i)*40*time.Millisecond, "ddb.test.", "ddb", dns.RcodeServerFailure, -1))
	}
	r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	byName := map[string]report.Expectation{}
	for _, e := range r.Expectations {
		byName[e.Name] = e
	}
	assert.True(t, byName["max_amplification"].OK, "the average passes: %v", byName["max_amplification"].Breaches)
	assert.False(t, byName["max_peak_amplification"].OK, "the burst breaks the peak bound")
	assert.Equal(t, []string{"ddb.test. in phase outage: 20.0x the baseline in its busiest second (20 queries against 1.0 q/s in healthy)"}, byName["max_peak_amplification"].Breaches)
}

// TestALateClientDoesNotDiluteTheBaseline: a client whose first query
// comes 9 s into a 10 s healthy phase has a baseline of 5 q/s, not 0.5.
func TestALateClientDoesNotDiluteTheBaseline(t *testing.T) {
	c := collector(t)
	for at := 9 * time.Second; at < 20*time.Second; at += 200 * time.Millisecond {
		rcode, rule := dns.RcodeSuccess, ""
		if at >= 10*time.Second {
			rcode, rule = dns.RcodeServerFailure, "ddb"
		}
		c.Observe(event(at, "ddb.test.", rule, rcode, 60))
	}
	r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	outage := r.Clients[0].Phases[1]
	require.NotNil(t, outage.Amplification)
	assert.InDelta(t, 1.0, *outage.Amplification, 0.001, "5 q/s in both")
}

// TestAmplificationWithoutAnExpectBlock: a scenario that states no
// expectation still gets amplification against its first phase.
func TestAmplificationWithoutAnExpectBlock(t *testing.T) {
	sc, err := scenarios.Parse("s.yaml", []byte(strings.Replace(twoPhases, "expect: {max_amplification: 3, max_qps: 5, honours_ttl: true}\n", "", 1)), scenarios.Options{})
	require.NoError(t, err)
	c := report.NewCollector(sc, sc.Timeline(t0, 1))
	for at := time.Duration(0); at < 10*time.Second; at += 2 * time.Second {
		c.Observe(event(at, "ddb.test.", "", dns.RcodeSuccess, 60))
	}
	c.Observe(event(11*time.Second, "ddb.test.", "ddb", dns.RcodeServerFailure, -1))
	r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	require.NotNil(t, r.Clients[0].Phases[1].Amplification)
	assert.True(t, r.ExpectationsDefaulted, "no expect block: the defaults are judged")
	names := map[string]report.Expectation{}
	for _, e := range r.Expectations {
		names[e.Name] = e
	}
	assert.True(t, names["max_peak_amplification"].OK, "one query in a second is no storm")
	assert.Contains(t, names["max_peak_amplification"].Source, "default")
	assert.Contains(t, names["max_recovery"].NotJudged, "no call of the service was reported", "no events: recovery cannot be judged, and says so")
	assert.NotEqual(t, "expectation-failed", r.Verdict, "nothing judged was broken")
	var text strings.Builder
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "The scenario states no expectation: dnsfault judged its defaults")
	assert.Contains(t, text.String(), "expect max_recovery: 5m0s (scenario time): NOT JUDGED: no call of the service was reported")
	assert.Contains(t, text.String(), "The service itself was not judged")
}

// TestTTLFiguresTellNoCacheFromAShortCache: a client with no cache (it
// asks on every call, 10 a second, as Go's resolver does) is not flagged
// by any TTL figure; a client that caches 60 s answers for only 5 s is.
func TestTTLFiguresTellNoCacheFromAShortCache(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		every time.Duration
		early bool
	}{
		{"no cache: asks on every call", 100 * time.Millisecond, false},
		{"a 5 s cache of 60 s answers", 5 * time.Second, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := collector(t)
			for at := time.Duration(0); at < 20*time.Second; at += tc.every {
				rule := "" // a target name: a rule takes it in the outage, answering normally
				if at >= 10*time.Second {
					rule = "ddb"
				}
				c.Observe(event(at, "ddb.test.", rule, dns.RcodeSuccess, 60))
			}
			r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
			early := 0
			for _, b := range r.Clients {
				for _, np := range b.Phases {
					early += np.EarlyReasks
				}
			}
			for _, e := range r.Expectations {
				if e.Name == "honours_ttl" {
					assert.Equal(t, !tc.early, e.OK, "honours_ttl")
				}
			}
			if tc.early {
				assert.Positive(t, early)
			} else {
				assert.Zero(t, early)
			}
		})
	}
}

// TestTheReportCountsByTransport: queries by transport, in the JSON and in
// the summary line once another transport than UDP took part.
func TestTheReportCountsByTransport(t *testing.T) {
	c := collector(t)
	for i, tr := range []scenarios.Transport{scenarios.UDP, scenarios.UDP, scenarios.DoH, scenarios.DoT} {
		ev := event(time.Duration(i)*time.Second, "www.test.", "", dns.RcodeSuccess, 60)
		ev.Transport = tr
		c.Observe(ev)
	}
	r := c.Report(report.Run{Seed: 1, Speed: 1, Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	assert.Equal(t, map[string]int{"udp": 2, "doh": 1, "dot": 1}, r.Transports)
	var text strings.Builder
	r.WriteText(&text)
	assert.Contains(t, text.String(), "4 queries (udp 2, dot 1, doh 1)")
}

// TestACallSpanningTheOutageIsUnavailableInIt: a call that began in the
// outage and succeeded only after it is counted where it began, in flight
// at its end, and not as available there; a call that began healthy and
// ended in the outage counts in the outage, where it met its outcome.
func TestACallSpanningTheOutageIsUnavailableInIt(t *testing.T) {
	sc, err := scenarios.Parse("s.yaml", []byte("version: 1\nphases:\n  - {name: healthy, duration: 10s}\n  - {name: outage, duration: 10s, rules: [{match: {names: [a.test]}, action: drop}]}\n  - {name: fixed, fixed: true}\n"), scenarios.Options{})
	require.NoError(t, err)
	c := report.NewCollector(sc, sc.Timeline(t0, 1))
	call := func(from, to time.Duration, ok bool) {
		c.Call(report.Call{Start: t0.Add(from), Time: t0.Add(to), OK: ok})
	}
	call(1*time.Second, 2*time.Second, true)
	call(9*time.Second, 11*time.Second, true)  // healthy, ends in the outage
	call(12*time.Second, 25*time.Second, true) // hung through the outage, fine after the fix
	call(13*time.Second, 14*time.Second, false)
	call(26*time.Second, 27*time.Second, true)
	r := c.Report(report.Run{Speed: 1, Command: []string{"t"}, Started: t0, Ended: t0.Add(30 * time.Second)})
	byPhase := map[string]report.ServicePhase{}
	for _, sp := range r.Service {
		byPhase[sp.Phase] = sp
	}
	assert.Equal(t, 1, byPhase["healthy"].Calls)
	assert.Equal(t, 100.0, byPhase["healthy"].Availability)
	assert.Equal(t, 3, byPhase["outage"].Calls)
	assert.InDelta(t, 100.0/3, byPhase["outage"].Availability, 0.01, "the hung call did not serve during the outage")
	assert.Equal(t, 1, byPhase["outage"].InFlightAtEnd)
	assert.Equal(t, map[string]int{"in-flight-at-phase-end": 1, "other": 1}, byPhase["outage"].Errors)
	require.NotNil(t, r.Recovery)
	assert.Equal(t, report.NeverRecovered, r.Recovery.State, "two successes after the fix are not three in a row")
	require.NotNil(t, r.Recovery.FirstSuccessSeconds)
	assert.InDelta(t, 5, *r.Recovery.FirstSuccessSeconds, 0.001, "the hung call's success, 5 s after the fix")
}

// TestADualStackClientIsNoRetrier: a client asking A and AAAA for a name
// with IPv4 addresses only gets NODATA for AAAA on every call; asking
// again is not a re-ask after a failure while A answers. When both go
// empty (the outage), it is.
func TestADualStackClientIsNoRetrier(t *testing.T) {
	c := collector(t)
	ask := func(at time.Duration, qtype uint16, addresses bool) {
		ev := event(at, "ddb.test.", "", dns.RcodeSuccess, 60)
		ev.Type = qtype
		if qtype == dns.TypeAAAA || !addresses {
			ev.Answer, ev.TTL = nil, 60
		}
		if at >= 10*time.Second {
			ev.Rule = "ddb"
		}
		c.Observe(ev)
	}
	for at := time.Duration(0); at < 10*time.Second; at += 100 * time.Millisecond {
		ask(at, dns.TypeAAAA, true) // AAAA first, as Go's resolver may
		ask(at+time.Millisecond, dns.TypeA, true)
	}
	for at := 10 * time.Second; at < 12*time.Second; at += 100 * time.Millisecond {
		ask(at, dns.TypeAAAA, false)
		ask(at+time.Millisecond, dns.TypeA, false)
	}
	r := c.Report(report.Run{Speed: 1, Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	require.Len(t, r.Clients, 1)
	for _, p := range r.Clients[0].Phases {
		switch p.Phase {
		case "healthy":
			assert.Zero(t, p.Retries, "NODATA for AAAA while A answers is no failure")
		case "outage":
			assert.Greater(t, p.Retries, 30, "both empty: each ask again is a re-ask after a failure")
		}
	}
}

// TestFailedLookupsAreDNSErrorsInEveryClientsWords: what Go, glibc,
// curl, Java, Node, .NET and botocore say when a name does not resolve is
// classed dns.
func TestFailedLookupsAreDNSErrorsInEveryClientsWords(t *testing.T) {
	words := []string{
		"lookup api.shop.test on 127.0.0.1:53: no such host",                                 // Go
		"getaddrinfo: Name or service not known",                                             // glibc
		"curl: (6) Could not resolve host: api.shop.test",                                    // curl
		"java.net.UnknownHostException: api.shop.test",                                       // Java
		"Error: getaddrinfo ENOTFOUND api.shop.test",                                         // Node
		"getaddrinfo EAI_AGAIN api.shop.test",                                                // Node, SERVFAIL
		"System.Net.Sockets.SocketException (11001): No such host is known.",                 // .NET
		`Could not connect to the endpoint URL: "https://dynamodb.us-east-1.amazonaws.com/"`, // botocore
		"socket.gaierror: [Errno -3] Temporary failure in name resolution",                   // Python
	}
	c := collector(t)
	for i, w := range words {
		c.Call(report.Call{Start: t0.Add(time.Duration(i) * time.Second), Time: t0.Add(time.Duration(i) * time.Second), Error: w})
	}
	r := c.Report(report.Run{Speed: 1, Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	require.Len(t, r.Service, 1)
	assert.Equal(t, map[string]int{"dns": len(words)}, r.Service[0].Errors)
}

// TestNotEnoughBaselineIsSaidNotComputed: one query in a healthy phase is
// no rate: no amplification is printed against it, and the amplification
// bounds say they were not judged, and why.
func TestNotEnoughBaselineIsSaidNotComputed(t *testing.T) {
	c := collector(t)
	c.Observe(event(9*time.Second, "ddb.test.", "", dns.RcodeSuccess, 60))
	for i := range 20 {
		c.Observe(event(10*time.Second+time.Duration(i)*40*time.Millisecond, "ddb.test.", "ddb", dns.RcodeServerFailure, -1))
	}
	r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second)})
	outage := r.Clients[0].Phases[1]
	assert.Nil(t, outage.Amplification)
	assert.True(t, outage.BaselineTooShort)
	for _, e := range r.Expectations {
		if e.Name == "max_amplification" {
			assert.True(t, e.OK)
			assert.Equal(t, "not enough baseline: fewer than 5 queries of ddb.test. in phase healthy", e.NotJudged)
		}
	}
	var text strings.Builder
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "too short")
	assert.Contains(t, text.String(), "expect max_amplification: 3: NOT JUDGED: not enough baseline")
}

// TestAPhaseSeenForUnderASecondGivesNoRate: a run that ends 10 ms into
// the outage saw one query there. That is no rate of 100 q/s and no
// retry storm: the phase is "too short" (as a baseline would be), its
// busiest second holds the one query, and the amplification bounds do
// not judge it.
func TestAPhaseSeenForUnderASecondGivesNoRate(t *testing.T) {
	c := collector(t)
	for i := range 20 {
		c.Observe(event(time.Duration(i)*500*time.Millisecond, "ddb.test.", "", dns.RcodeSuccess, 0))
	}
	c.Observe(event(10*time.Second+5*time.Millisecond, "ddb.test.", "ddb", dns.RcodeServerFailure, -1))
	r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(10*time.Second + 10*time.Millisecond)})
	outage := r.Clients[0].Phases[1]
	assert.True(t, outage.TooShort)
	assert.Nil(t, outage.Amplification)
	assert.Equal(t, 1.0, outage.QPS, "one query over one second")
	assert.Equal(t, 1, outage.PeakQPS)
	for _, e := range r.Expectations {
		if e.Name == "max_amplification" {
			assert.True(t, e.OK)
			assert.Equal(t, "the run saw too little of phase outage for a rate (under 50 ms, or under a second with fewer than 5 queries of a name)", e.NotJudged)
		}
	}
	var text strings.Builder
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "too short")
}

// TestARuleThatNeverFiredSaysWhy: with the server's counts, the report
// says whether no question came, none matched, or the probability took
// none (issue 28).
func TestARuleThatNeverFiredSaysWhy(t *testing.T) {
	c := collector(t)
	c.Observe(event(11*time.Second, "ddb.test.", "ddb", dns.RcodeServerFailure, -1))
	r := c.Report(report.Run{Command: []string{"t"}, Started: t0, Ended: t0.Add(20 * time.Second),
		RuleCounts: map[report.RuleKey]report.RuleCount{{Phase: "outage", Rule: "ddb"}: {Seen: 9, Matched: 1}, {Phase: "outage", Rule: "never"}: {Seen: 9, Matched: 0}}})
	require.Len(t, r.Unexercised, 1)
	assert.Equal(t, uint64(9), *r.Unexercised[0].Seen)
	var text strings.Builder
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "Rules never exercised: never (phase outage: 9 questions came, none met its conditions).")
	assert.Equal(t, uint64(1), *r.Phases[1].Rules[0].Matched)
}
