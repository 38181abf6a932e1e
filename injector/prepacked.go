package injector

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsfault/dnsfault/injector/ratelimit"
	"github.com/dnsfault/dnsfault/injector/udpbatch"
	"github.com/dnsfault/dnsfault/scenarios"
)

// Prepacked answers: a UDP query that no rule can take and that the zones
// answer gets the same bytes every time, but for its ID and the case of
// its question. The first such answer is packed and kept with the plan;
// the next ones are copied from it straight from the query's bytes,
// without unpacking, building or packing a message (ServeRaw).

// maxPrepacked bounds the answers kept per plan: a flood of random names
// inside a zone cannot grow it without end.
const maxPrepacked = 100_000

// prepackedSet holds a plan's prepacked answers. Entries are only added:
// the zones cannot change within a plan.
type prepackedSet struct {
	mu      sync.RWMutex
	answers map[string]*prepacked
}

// prepacked is one answer, with what its events need.
type prepacked struct {
	wire   []byte // the answer, with ID 0
	name   string // the question's name in lower case
	rcode  int
	ttl    int64
	answer []dns.RR // the answer section, read-only, for Event.Answer
	// chain are the names the answer's CNAMEs lead to: a rule that may
	// take one sends the query the full way (chain.go).
	chain    []string
	counters kept
}

// phaseSeries is the metric series that counts a prepacked answer sent in
// a phase.
type phaseSeries struct {
	phase string
	c     prometheus.Counter
}

// rawQuestion is what ServeRaw reads from a query's bytes.
type rawQuestion struct {
	key     []byte // lower-case name, type, class and the flags that shape the answer
	nameLen int    // the name's length in the query, from offset 12
	qtype   uint16
	size    int // the largest UDP answer the client takes
}

const (
	flagQR, flagRD, flagCD = 1 << 15, 1 << 8, 1 << 4
	opcodeMask             = 0xF << 11
	// keyEDNS and keyDO mark the last key byte: whether the query had an
	// OPT record, and the DO bit in it.
	keyEDNS, keyDO = 1, 2
)

// readQuestion reads a plain query (one question, no compression, at most
// an OPT record) into q, its key written to buf. Anything else, well
// formed or not, is left to the full path: ok is false.
func readQuestion(b []byte, buf []byte) (q rawQuestion, ok bool) {
	if len(b) < 12+5 {
		return q, false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	counts := b[4:12]
	if flags&(flagQR|opcodeMask) != 0 || binary.BigEndian.Uint16(counts) != 1 ||
		binary.BigEndian.Uint16(counts[2:]) != 0 || binary.BigEndian.Uint16(counts[4:]) != 0 {
		return q, false
	}
	additional := binary.BigEndian.Uint16(counts[6:])
	if additional > 1 {
		return q, false
	}
	key := buf[:0]
	off := 12
	for {
		if off >= len(b) {
			return q, false
		}
		n := int(b[off])
		if n == 0 {
			break
		}
		if n > 63 || off+1+n > len(b) || off+1+n-12 > 254 {
			return q, false // a pointer, or too long
		}
		key = append(key, byte(n))
		for _, c := range b[off+1 : off+1+n] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			key = append(key, c)
		}
		off += 1 + n
	}
	key = append(key, 0)
	q.nameLen = off + 1 - 12
	off++
	if off+4 > len(b) {
		return q, false
	}
	q.qtype = binary.BigEndian.Uint16(b[off:])
	if q.qtype == dns.TypeANY || q.qtype == dns.TypeOPT || binary.BigEndian.Uint16(b[off+2:]) != dns.ClassINET {
		return q, false
	}
	key = append(key, b[off:off+4]...)
	off += 4
	last := byte(0)
	q.size = dns.MinMsgSize
	if additional == 1 {
		// The OPT record: root name, type, size, extended rcode, version,
		// flags, options (skipped: no answer depends on them).
		if off+11 > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != dns.TypeOPT ||
			b[off+5] != 0 || b[off+6] != 0 {
			return q, false
		}
		size := int(binary.BigEndian.Uint16(b[off+3:]))
		q.size = clampUDPSize(size)
		last = keyEDNS
		if binary.BigEndian.Uint16(b[off+7:])&0x8000 != 0 {
			last |= keyDO
		}
		off += 11 + int(binary.BigEndian.Uint16(b[off+9:]))
	}
	if off != len(b) {
		return q, false
	}
	q.key = append(key, byte(flags>>8)&byte(flagRD>>8), byte(flags)&flagCD, last)
	return q, true
}

// keyOf is readQuestion's key for a query already unpacked.
func keyOf(r *dns.Msg, buf []byte) ([]byte, bool) {
	if len(r.Question) != 1 {
		return nil, false
	}
	q := r.Question[0]
	n, err := dns.PackDomainName(lower(q.Name), buf, 0, nil, false)
	if err != nil || n+8 > len(buf) {
		return nil, false
	}
	key := binary.BigEndian.AppendUint16(buf[:n], q.Qtype)
	key = binary.BigEndian.AppendUint16(key, q.Qclass)
	var rd, cd, last byte
	if r.RecursionDesired {
		rd = flagRD >> 8
	}
	if r.CheckingDisabled {
		cd = flagCD
	}
	if opt := r.IsEdns0(); opt != nil {
		last = keyEDNS
		if opt.Do() {
			last |= keyDO
		}
	}
	return append(key, rd, cd, last), true
}

// serveRaw answers query from the plan's prepacked answers when no rule
// can take it, writing the answer into out; it returns the answer's
// length, or 0 to have the query served the full way.
func (p *pipeline) serveRaw(query []byte, from netip.AddrPort, out []byte) (n int) {
	defer func() {
		if v := recover(); v != nil {
			p.countPanic(v)
			n = 0
		}
	}()
	var buf [256 + 7]byte
	q, ok := readQuestion(query, buf[:])
	if !ok {
		return 0
	}
	st := p.state.Load()
	pl := st.plan
	ps := &pl.source.prepacked
	ps.mu.RLock()
	a := ps.answers[string(q.key)]
	ps.mu.RUnlock()
	if a == nil || len(a.wire) > q.size || len(a.wire) > len(out) {
		// Not an answer packed already (a prepacked one costs nothing to
		// sign): a flood of new names is turned away here, or served the
		// full way.
		if n, limited := p.limitSignedRaw(query, q, from, pl, out); limited {
			return n
		}
		return 0
	}
	client := from.Addr().Unmap()
	if !allowed(p.cfg.Allow, client) {
		return 0
	}
	began := time.Now()
	arrived := began
	if !p.realClock {
		arrived = p.cfg.Now()
	}
	ev := Event{Time: arrived, Client: client, Name: a.name, Type: q.qtype, Transport: scenarios.UDP,
		Action: "pass", Sent: SentMessage, Rcode: a.rcode, TTL: a.ttl, Answer: a.answer}
	// A rule may take it, or a name of its chain: its decisions are made
	// the full way.
	mq := matchQuery(a.name, q.qtype, client, scenarios.UDP)
	var d decision
	for i := -1; i < len(a.chain); i++ {
		if i >= 0 {
			mq.Name = a.chain[i]
		}
		d = p.decideRule(st, &mq, arrived, forFastPath)
		if d.rule != nil {
			return 0
		}
		ev.Phase = d.phase
	}
	p.seenPrepacked(st, d)
	return p.sendPrepacked(query, out, a, q, &ev, from, began)
}

// sendPrepacked writes the prepacked answer a to query into out, and
// observes it.
func (p *pipeline) sendPrepacked(query, out []byte, a *prepacked, q rawQuestion, ev *Event, from netip.AddrPort, began time.Time) int {
	n := copy(out, a.wire)
	copy(out[:2], query[:2])               // the query's ID
	copy(out[12:12+q.nameLen], query[12:]) // and its case (0x20)
	ev.Latency = time.Since(began)
	p.obs.observe(ev, &a.counters)
	if p.cfg.Dnstap != nil {
		p.tapPrepacked(query, out[:n], ev, from, began)
	}
	return n
}

// anyRule stops the matcher at the first rule whose conditions a query
// meets, whatever its probability.
func anyRule(int) bool { return true }

// keep prepacks answer m to r, when it can be prepacked: a zone's answer
// over UDP, written whole. m is the message as sent (see pipeline.write).
func (ps *prepackedSet) keep(r, m *dns.Msg, name string, size int, l *live) {
	var buf [256 + 7]byte
	key, ok := keyOf(r, buf[:])
	if !ok || m.Truncated {
		return
	}
	ps.mu.RLock()
	known, full := ps.answers[string(key)] != nil, len(ps.answers) >= maxPrepacked
	ps.mu.RUnlock()
	if known || full {
		return
	}
	wire, err := m.Pack()
	if err != nil || len(wire) > size {
		return
	}
	wire[0], wire[1] = 0, 0
	a := &prepacked{wire: wire, name: name, rcode: m.Rcode, ttl: cacheTTL(m), answer: m.Answer, chain: chainTargets(m, name)}
	a.counters.name = l.nameCounter(name)
	ps.mu.Lock()
	if ps.answers == nil {
		ps.answers = map[string]*prepacked{}
	}
	if len(ps.answers) < maxPrepacked {
		ps.answers[string(key)] = a
	}
	ps.mu.Unlock()
}

// limitSignedRaw is limitSigned (Config.SigningBudget) for a query still
// in its bytes that no prepacked answer serves: once its prefix's budget
// is spent, a flood of random names is turned away here, before it costs
// a parse, let alone a signature. It only looks: a query let through is charged in respond.
// It returns the truncated answer's length or udpbatch.Unanswered, and
// whether the query was limited.
func (p *pipeline) limitSignedRaw(query []byte, q rawQuestion, from netip.AddrPort, pl *plan, out []byte) (int, bool) {
	if p.signing == nil || len(pl.signed) == 0 || q.key[len(q.key)-1]&keyDO == 0 {
		return 0, false
	}
	name, _, err := dns.UnpackDomainName(q.key, 0)
	if err != nil || !pl.source.zones.Signed(name) || p.signing.Has(ratelimit.Prefix(from.Addr().Unmap())) {
		return 0, false
	}
	end := 12 + q.nameLen + 4 // the header and the question
	if p.slipDrops() || end > len(out) {
		return udpbatch.Unanswered, true
	}
	n := copy(out, query[:end])
	out[2] = out[2]&^0x7e | 0x80 | 0x02 // QR and TC, opcode QUERY, RD kept
	out[3] = 0                          // RA, Z, AD, CD clear; NOERROR
	clear(out[6:12])                    // no answer, authority or additional records
	return n, true
}
