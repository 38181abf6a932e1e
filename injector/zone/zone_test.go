package zone_test

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector/zone"
	"github.com/dnsfault/dnsfault/scenarios"
)

func set(t *testing.T, records ...string) *zone.Set {
	t.Helper()
	var rrs []dns.RR
	for _, r := range records {
		rr, err := dns.NewRR(r)
		require.NoError(t, err)
		rrs = append(rrs, rr)
	}
	return zone.NewSet([]scenarios.Zone{{Origin: "z.test.", Records: rrs}}, nil)
}

func texts(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

func TestLookup(t *testing.T) {
	s := set(t,
		"z.test. 300 IN SOA ns.z.test. admin.z.test. 7 3600 600 86400 30",
		"a.z.test. 60 IN A 192.0.2.1",
		"deep.below.z.test. 60 IN A 192.0.2.2",
		"alias.z.test. 60 IN CNAME a.z.test.",
		"hop.z.test. 60 IN CNAME alias.z.test.",
		"out.z.test. 60 IN CNAME www.example.org.",
		"loop1.z.test. 60 IN CNAME loop2.z.test.",
		"loop2.z.test. 60 IN CNAME loop1.z.test.",
		"*.wild.z.test. 60 IN A 192.0.2.9",
		"real.wild.z.test. 60 IN TXT \"not from the wildcard\"",
	)
	soa := "z.test.\t30\tIN\tSOA\tns.z.test. admin.z.test. 7 3600 600 86400 30"
	cases := []struct {
		desc   string
		name   string
		qtype  uint16
		rcode  int
		answer []string
		ns     []string
	}{
		{"a record", "a.z.test.", dns.TypeA, dns.RcodeSuccess, []string{"a.z.test.\t60\tIN\tA\t192.0.2.1"}, nil},
		{"no such type is NODATA with the SOA", "a.z.test.", dns.TypeAAAA, dns.RcodeSuccess, nil, []string{soa}},
		{"no such name is NXDOMAIN with the SOA", "nope.z.test.", dns.TypeA, dns.RcodeNameError, nil, []string{soa}},
		{"an empty non-terminal is NODATA", "below.z.test.", dns.TypeA, dns.RcodeSuccess, nil, []string{soa}},
		{"a CNAME chain is followed", "hop.z.test.", dns.TypeA, dns.RcodeSuccess, []string{
			"hop.z.test.\t60\tIN\tCNAME\talias.z.test.", "alias.z.test.\t60\tIN\tCNAME\ta.z.test.", "a.z.test.\t60\tIN\tA\t192.0.2.1"}, nil},
		{"a CNAME query gets the CNAME itself", "alias.z.test.", dns.TypeCNAME, dns.RcodeSuccess, []string{"alias.z.test.\t60\tIN\tCNAME\ta.z.test."}, nil},
		{"a chain leaving the zones stops there", "out.z.test.", dns.TypeA, dns.RcodeSuccess, []string{"out.z.test.\t60\tIN\tCNAME\twww.example.org."}, nil},
		{"a CNAME loop fails", "loop1.z.test.", dns.TypeA, dns.RcodeServerFailure, nil, nil},
		{"a wildcard answers with the queried name", "x.y.wild.z.test.", dns.TypeA, dns.RcodeSuccess, []string{"x.y.wild.z.test.\t60\tIN\tA\t192.0.2.9"}, nil},
		{"an existing name is not covered by the wildcard", "real.wild.z.test.", dns.TypeA, dns.RcodeSuccess, nil, []string{soa}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			res, ok := s.Lookup(tc.name, tc.qtype, false)
			require.True(t, ok)
			assert.Equal(t, tc.rcode, res.Rcode)
			assert.Equal(t, append([]string{}, tc.answer...), texts(res.Answer))
			assert.Equal(t, append([]string{}, tc.ns...), texts(res.Ns))
		})
	}
}

func TestNamesOutsideTheZonesAreNotAnswered(t *testing.T) {
	s := set(t, "a.z.test. 60 IN A 192.0.2.1")
	_, ok := s.Lookup("a.other.test.", dns.TypeA, false)
	assert.False(t, ok)
	assert.False(t, s.Contains("z.test.example."))
}

func TestAZoneWithoutSOAGetsOne(t *testing.T) {
	s := set(t, "a.z.test. 60 IN A 192.0.2.1")
	res, _ := s.Lookup("b.z.test.", dns.TypeA, false)
	require.Len(t, res.Ns, 1)
	soa := res.Ns[0].(*dns.SOA)
	assert.Equal(t, "z.test.", soa.Hdr.Name)
	assert.Equal(t, uint32(60), soa.Minttl)
}

func TestAnswerSlicesAreTheCallers(t *testing.T) {
	s := set(t, "a.z.test. 60 IN A 192.0.2.1", "a.z.test. 60 IN A 192.0.2.2")
	res, _ := s.Lookup("a.z.test.", dns.TypeA, false)
	res.Answer[0] = nil
	again, _ := s.Lookup("a.z.test.", dns.TypeA, false)
	assert.Len(t, texts(again.Answer), 2, "changing an answer's slice must not change the zone")
}

func TestNegativeSOAForNamesOutsideTheZones(t *testing.T) {
	s := set(t)
	soa := s.NegativeSOA("dynamodb.us-east-1.amazonaws.com.").(*dns.SOA)
	assert.Equal(t, "us-east-1.amazonaws.com.", soa.Hdr.Name)
}

// TestAnAuthoritysAnswers: the points fidelity_test.go compares with Knot
// DNS, each stated once here.
func TestAnAuthoritysAnswers(t *testing.T) {
	s := set(t,
		"z.test. 300 IN SOA ns.z.test. admin.z.test. 7 3600 600 86400 30",
		"z.test. 300 IN NS ns.z.test.",
		"z.test. 300 IN MX 10 mail.z.test.",
		"ns.z.test. 300 IN A 192.0.2.53",
		"mail.z.test. 300 IN A 192.0.2.25",
		"mail.z.test. 300 IN AAAA 2001:db8::25",
		"sub.z.test. 300 IN NS ns.sub.z.test.",
		"sub.z.test. 300 IN DS 1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
		"ns.sub.z.test. 300 IN A 192.0.2.153",
		"dn.z.test. 300 IN DNAME t.z.test.",
		"x.t.z.test. 300 IN A 192.0.2.33",
	)
	// Below a cut: a referral, not AA, with glue.
	res, _ := s.Lookup("host.sub.z.test.", dns.TypeA, false)
	assert.False(t, res.Authoritative)
	assert.Equal(t, dns.RcodeSuccess, res.Rcode)
	assert.Empty(t, res.Answer)
	assert.Equal(t, []string{"sub.z.test.\t300\tIN\tNS\tns.sub.z.test."}, texts(res.Ns))
	assert.Equal(t, []string{"ns.sub.z.test.\t300\tIN\tA\t192.0.2.153"}, texts(res.Extra))
	// The cut's DS is the parent's.
	res, _ = s.Lookup("sub.z.test.", dns.TypeDS, false)
	assert.True(t, res.Authoritative)
	assert.Len(t, res.Answer, 1)
	// DNAME: the DNAME, the synthesised CNAME, the rewritten name's answer.
	res, _ = s.Lookup("x.dn.z.test.", dns.TypeA, false)
	assert.Equal(t, []string{"dn.z.test.\t300\tIN\tDNAME\tt.z.test.", "x.dn.z.test.\t300\tIN\tCNAME\tx.t.z.test.", "x.t.z.test.\t300\tIN\tA\t192.0.2.33"}, texts(res.Answer))
	// Glue for MX targets in the zone.
	res, _ = s.Lookup("z.test.", dns.TypeMX, false)
	assert.Equal(t, []string{"mail.z.test.\t300\tIN\tA\t192.0.2.25", "mail.z.test.\t300\tIN\tAAAA\t2001:db8::25"}, texts(res.Extra))
	// ANY: one RRset, the lowest type; a missing name NXDOMAIN.
	res, _ = s.Lookup("mail.z.test.", dns.TypeANY, false)
	assert.Equal(t, []string{"mail.z.test.\t300\tIN\tA\t192.0.2.25"}, texts(res.Answer))
	res, _ = s.Lookup("missing.z.test.", dns.TypeANY, false)
	assert.Equal(t, dns.RcodeNameError, res.Rcode)
}
