package injector_test

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/dnstest"
)

// fuzzScenario answers from a zone and injects every fault that replies
// with a DNS message (garbage replies with non-DNS by design, and delays
// would slow the fuzzer down).
const fuzzScenario = `
version: 1
upstream: none
zones: [{origin: f.test., records: ["ok.f.test. 60 IN A 192.0.2.1", "*.w.f.test. 60 IN A 192.0.2.2", "c.f.test. 60 IN CNAME ok.f.test."]}]
rules:
  - {match: {names: [nx.f.test]}, action: nxdomain, ttl: 5}
  - {match: {names: [sf.f.test]}, action: servfail, ede: 22}
  - {match: {names: [e.f.test]}, action: empty}
  - {match: {names: [a.f.test]}, action: answer, records: ["@ 1 IN A 192.0.2.9", "@ 1 IN CNAME ok.f.test."], keep: 1}
  - {match: {names: [tc.f.test]}, action: truncate}
  - {match: {names: [d.f.test]}, action: drop}
  - {match: {names: ["~^r[0-9]"]}, action: refused}
`

// packets returns the malformed packets of testdata/packets.
func packets(t testing.TB) map[string][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "packets", "*.bin"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = data
	}
	return out
}

// prober sends raw bytes to a server and checks what comes back: only
// valid DNS messages, or nothing. After each input it sends a probe query
// and reads until the probe's answer arrives, so it knows the server
// handled the input and is still serving.
type prober struct {
	srv   *injector.Server
	probe atomic.Uint32
}

func (p *prober) nextProbe() *dns.Msg {
	q := dnstest.Query("ok.f.test.", dns.TypeA)
	q.Id = uint16(p.probe.Add(1))
	return q
}

func (p *prober) udp(t *testing.T, conn net.Conn, packet []byte) {
	if _, err := conn.Write(packet); err != nil {
		t.Fatalf("write: %v", err)
	}
	probe := p.nextProbe()
	wire, _ := probe.Pack()
	conn.Write(wire)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer to the probe after the input %x: %v", packet, err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("the server sent a malformed message (%v) for the input %x", err, packet)
		}
		if m.Id == probe.Id && len(m.Question) == 1 && m.Question[0].Name == "ok.f.test." {
			p.noPanics(t, packet)
			return
		}
	}
}

// noPanics fails when handling the input panicked: the server recovers
// (and answers SERVFAIL), which must not hide the bug from the fuzzer.
func (p *prober) noPanics(t *testing.T, packet []byte) {
	if n := p.srv.Status().Panics; n > 0 {
		t.Fatalf("handling the input %x panicked (%d panics so far); see the log", packet, n)
	}
}

func (p *prober) tcp(t *testing.T, packet []byte) {
	conn, err := net.Dial("tcp", p.srv.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(packet)))
	conn.Write(append(framed, packet...))
	probe := p.nextProbe()
	wire, _ := probe.Pack()
	conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...))
	for {
		var size [2]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			p.noPanics(t, packet)
			return // the server hung up on the bad input: nothing, which is allowed
		}
		msg := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(conn, msg); err != nil {
			t.Fatalf("a message cut short over TCP after the input %x: %v", packet, err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(msg); err != nil {
			t.Fatalf("the server sent a malformed message (%v) for the input %x", err, packet)
		}
		if m.Id == probe.Id {
			p.noPanics(t, packet)
			return
		}
	}
}

func startFuzzServer(t testing.TB) *injector.Server {
	return start(t, fuzzScenario, injector.Config{})
}

// validQueries seed the fuzzers with well-formed queries for every rule.
func validQueries() [][]byte {
	var out [][]byte
	for _, name := range []string{"ok.f.test.", "x.w.f.test.", "c.f.test.", "nx.f.test.", "sf.f.test.", "e.f.test.", "a.f.test.", "tc.f.test.", "d.f.test.", "r1.example."} {
		for _, edns := range []bool{false, true} {
			q := dnstest.Query(name, dns.TypeA)
			if edns {
				q.SetEdns0(1232, true)
			}
			wire, _ := q.Pack()
			out = append(out, wire)
		}
	}
	return out
}

func TestMalformedPacketsAreAnsweredOrIgnored(t *testing.T) {
	srv := startFuzzServer(t)
	p := &prober{srv: srv}
	conn, err := net.Dial("udp", srv.Addr())
	require.NoError(t, err)
	defer conn.Close()
	for name, packet := range packets(t) {
		t.Run(name, func(t *testing.T) {
			p.udp(t, conn, packet)
			p.tcp(t, packet)
		})
	}
	assert.Eventually(t, func() bool { return srv.Status().InFlight == 0 }, dnstest.Patience(5*time.Second), time.Millisecond, "every query finished")
}

func FuzzUDP(f *testing.F) {
	for _, packet := range packets(f) {
		f.Add(packet)
	}
	for _, q := range validQueries() {
		f.Add(q)
	}
	srv := startFuzzServer(f)
	p := &prober{srv: srv}
	conn, err := net.Dial("udp", srv.Addr())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, packet []byte) {
		p.udp(t, conn, packet)
	})
}

func FuzzTCP(f *testing.F) {
	for _, packet := range packets(f) {
		f.Add(packet)
	}
	for _, q := range validQueries() {
		f.Add(q)
	}
	p := &prober{srv: startFuzzServer(f)}
	f.Fuzz(func(t *testing.T, packet []byte) {
		if len(packet) > dns.MaxMsgSize {
			return // cannot be framed over TCP
		}
		p.tcp(t, packet)
	})
}
