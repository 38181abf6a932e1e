package dnssec_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnssec"
	"github.com/dnsfault/dnsfault/scenarios"
)

// What signing costs when no signature is kept: one RRset, as a fault's
// made-up answer needs, and as each RRset of a zone costs when it loads.
func BenchmarkSignRRset(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		b.Run(dns.AlgorithmToString[alg], func(b *testing.B) {
			key, err := dnssec.GenerateKey("bench.test.", alg)
			if err != nil {
				b.Fatal(err)
			}
			rr, _ := dns.NewRR("www.bench.test. 60 IN A 192.0.2.1")
			window := dnssec.ValidAround(time.Now())
			b.ReportAllocs()
			for b.Loop() {
				if dnssec.Sign(key, []dns.RR{rr}, window) == nil {
					b.Fatal("no signature")
				}
			}
		})
	}
}

// BenchmarkCompleteNXDOMAIN is a fault's NXDOMAIN in a signed zone: the
// SOA and two white-lie NSEC records, each signed.
func BenchmarkCompleteNXDOMAIN(b *testing.B) {
	key, err := dnssec.GenerateKey("bench.test.", dns.ECDSAP256SHA256)
	if err != nil {
		b.Fatal(err)
	}
	zones := oneZone{key: key}
	soa, _ := dns.NewRR("bench.test. 60 IN SOA ns.bench.test. h.bench.test. 1 3600 600 86400 60")
	window := dnssec.ValidAround(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		m := &dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeNameError}, Ns: []dns.RR{soa}}
		dnssec.Complete(m, "gone.bench.test.", dns.TypeA, zones, window)
		if len(m.Ns) != 6 {
			b.Fatalf("%d records in the authority section", len(m.Ns))
		}
	}
}

// oneZone is a signed zone that holds every name.
type oneZone struct{ key *dnssec.Key }

func (z oneZone) SignerOf(string, uint16) *dnssec.Key           { return z.key }
func (z oneZone) Types(string) ([]uint16, bool)                 { return nil, false }
func (z oneZone) NegativeTTL(string) uint32                     { return 60 }
func (z oneZone) NSEC3(string) (string, *scenarios.NSEC3Params) { return "bench.test.", nil }

// Proof makes the records every time: the benchmark measures a name not
// asked before.
func (z oneZone) Proof(_ string, _ uint32, make func() []dns.RR) []dns.RR { return make() }
