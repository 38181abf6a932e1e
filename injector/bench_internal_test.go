package injector

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// packWriter is a ResponseWriter that packs replies as the network writer
// would, and keeps nothing: the benchmarks measure the handler, not sockets.
type packWriter struct {
	remote net.Addr
	buf    []byte
}

func (w *packWriter) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *packWriter) RemoteAddr() net.Addr { return w.remote }
func (w *packWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.PackBuffer(w.buf)
	w.buf = b[:cap(b)]
	return err
}
func (w *packWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *packWriter) Close() error                { return nil }
func (w *packWriter) TsigStatus() error           { return nil }
func (w *packWriter) TsigTimersOnly(bool)         {}
func (w *packWriter) Hijack()                     {}

// batchWriter is a packWriter that, like udpbatch's writers, can detach:
// the handler then takes the path it takes for batched UDP.
type batchWriter struct{ packWriter }

func (*batchWriter) Detach() {}

// benchScenario is a zone of 1,000 names, and n rules none of which
// matches the queried names, plus one wildcard answer rule.
func benchScenario(rules int) string {
	var b strings.Builder
	b.WriteString("version: 1\nseed: 1\nupstream: none\nzones:\n  - origin: bench.test.\n    records:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "      - \"h%d.bench.test. 60 IN A 192.0.2.%d\"\n", i, i%250)
	}
	b.WriteString("rules:\n  - {match: {names: [\"*.answer.test\"]}, action: answer, records: [\"@ 60 IN A 203.0.113.1\"]}\n")
	for i := 0; i < rules; i++ {
		fmt.Fprintf(&b, "  - {match: {names: [miss%d.other.test]}, action: servfail}\n", i)
	}
	return b.String()
}

func BenchmarkServeDNS(b *testing.B) {
	cases := []struct {
		desc, name string
		rules      int
	}{
		{"zone answer, no rules", "h42.bench.test.", 0},
		{"zone answer, 10000 rules none matching", "h42.bench.test.", 10000},
		{"wildcard answer rule", "x.answer.test.", 0},
	}
	for _, tc := range cases {
		sc, err := scenarios.Parse("bench.yaml", []byte(benchScenario(tc.rules)), scenarios.Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := New(Config{Listen: "127.0.0.1:0"}, sc)
		if err != nil {
			b.Fatal(err)
		}
		q := new(dns.Msg)
		q.SetQuestion(tc.name, dns.TypeA)
		q.SetEdns0(1232, false)
		h := udpHandler{srv.pipe}
		b.Run(tc.desc, func(b *testing.B) {
			w := &packWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.ServeDNS(w, q)
			}
		})
		// The same query from the bytes, as udpbatch first offers it: a
		// prepacked answer when the zones answer and no rule applies.
		b.Run(tc.desc+", raw", func(b *testing.B) {
			from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
			w := &batchWriter{packWriter{remote: from}}
			h.ServeDNS(w, q) // the first, packed and kept
			query, _ := q.Pack()
			out := make([]byte, 2048)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if h.ServeRaw(query, from.AddrPort(), out) == 0 {
					h.ServeDNS(w, q)
				}
			}
		})
	}
}

// BenchmarkForward measures one forwarded query through the handler, to a
// fake upstream on loopback.
func BenchmarkForward(b *testing.B) {
	up := dnstest.Start(b, dnstest.AnswerA("192.0.2.1"))
	sc, err := scenarios.Parse("fwd.yaml", []byte("version: 1\n"), scenarios.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Listen: "127.0.0.1:0", Upstream: []string{up.Addr}, ForwardRate: 0}, sc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	w := &packWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
	h := udpHandler{srv.pipe}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.ServeDNS(w, q)
	}
}
