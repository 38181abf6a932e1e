package fault_test

import (
	"context"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/zone"
	"github.com/dnsfault/dnsfault/scenarios"
)

// noSource answers nothing normally; faults that need it fail the test.
type noSource struct{ t *testing.T }

func (s noSource) Resolve(context.Context, *fault.Request) (*dns.Msg, error) {
	s.t.Fatal("this fault should not need the normal answer")
	return nil, nil
}

func (noSource) NegativeSOA(name string) dns.RR { return zone.NewSet(nil, nil).NegativeSOA(name) }

func request(name string, qtype uint16) *fault.Request {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return &fault.Request{Msg: m, Name: name, Type: qtype, Transport: scenarios.UDP}
}

func TestEveryActionHasAFault(t *testing.T) {
	for _, a := range scenarios.Actions {
		r := &scenarios.Rule{Action: a}
		assert.NotNil(t, fault.For(r), "action %s", a)
	}
}

func TestFaultsNeverChangeTheQuery(t *testing.T) {
	req := request("a.test.", dns.TypeA)
	before := req.Msg.String()
	for _, a := range []scenarios.Action{scenarios.NXDomain, scenarios.Empty, scenarios.ServFail, scenarios.Truncate, scenarios.Garbage, scenarios.Drop} {
		_, err := fault.For(&scenarios.Rule{Action: a}).Act(context.Background(), req, noSource{t})
		require.NoError(t, err)
	}
	assert.Equal(t, before, req.Msg.String())
}

func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	req := request("a.test.", dns.TypeA)

	out, _ := fault.Drop{}.Act(ctx, req, noSource{t})
	assert.Equal(t, fault.Outcome{Drop: true}, out)

	out, _ = fault.Garbage{}.Act(ctx, req, noSource{t})
	require.NotNil(t, out.Raw)
	assert.Error(t, new(dns.Msg).Unpack(out.Raw))

	out, _ = fault.Negative{Code: dns.RcodeNameError}.Act(ctx, req, noSource{t})
	assert.Equal(t, dns.RcodeNameError, out.Msg.Rcode)
	require.Len(t, out.Msg.Ns, 1)
	assert.Equal(t, "test.", out.Msg.Ns[0].Header().Name)
}

func TestSetTTLAndKeep(t *testing.T) {
	m := new(dns.Msg)
	for _, s := range []string{"w.test. 60 IN CNAME p.test.", "p.test. 60 IN A 192.0.2.1", "p.test. 60 IN A 192.0.2.2", "p.test. 60 IN A 192.0.2.3"} {
		rr, err := dns.NewRR(s)
		require.NoError(t, err)
		m.Answer = append(m.Answer, rr)
	}
	m.Ns = []dns.RR{zone.SyntheticSOA("test.")}
	m.SetEdns0(1232, false)

	fault.Keep(m, dns.TypeA, 1)
	require.Len(t, m.Answer, 2)
	assert.Equal(t, dns.TypeCNAME, m.Answer[0].Header().Rrtype)

	fault.SetTTL(m, 7)
	for _, rr := range append(m.Answer, m.Ns...) {
		assert.Equal(t, uint32(7), rr.Header().Ttl)
	}
	assert.Equal(t, uint32(7), m.Ns[0].(*dns.SOA).Minttl)
	assert.Equal(t, uint16(1232), m.IsEdns0().UDPSize(), "the OPT pseudo-record is not a TTL to rewrite")
}

func TestSetTTLNeverChangesSharedRecords(t *testing.T) {
	shared, err := dns.NewRR("a.test. 60 IN A 192.0.2.1")
	require.NoError(t, err)
	soa := zone.SyntheticSOA("test.")
	m := &dns.Msg{Answer: []dns.RR{shared}, Ns: []dns.RR{soa}}
	fault.SetTTL(m, 5)
	assert.Equal(t, uint32(5), m.Answer[0].Header().Ttl)
	assert.Equal(t, uint32(60), shared.Header().Ttl, "the zone's record is untouched")
	assert.Equal(t, uint32(60), soa.Minttl)
}

// TestChainPointActionsHaveChainPointFaults: the action table says which
// actions act at a name a CNAME chain reaches, and their faults say how;
// no action can claim it and silently act as pass.
func TestChainPointActionsHaveChainPointFaults(t *testing.T) {
	for _, a := range scenarios.Actions {
		f := fault.For(&scenarios.Rule{Action: a})
		_, ok := f.(fault.ChainPointFault)
		assert.Equal(t, a.Info().AtChainPoint, ok, "%s: AtChainPoint in the table, ActAtChainPoint in its fault", a)
	}
}
