package dnssec

import (
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Zones is what signing a fault's answer needs of the zones.
type Zones interface {
	// SignerOf returns the key that signs the RRset (owner, t), or nil
	// when no signed zone holds it.
	SignerOf(owner string, t uint16) *Key
	// Types returns the types at name, and whether it exists.
	Types(name string) ([]uint16, bool)
	// NegativeTTL is the TTL of negative answers about name.
	NegativeTTL(name string) uint32
	// NSEC3 returns the zone of name and, when it denies with NSEC3,
	// its parameters (nil: NSEC).
	NSEC3(name string) (zone string, p *scenarios.NSEC3Params)
	// Proof returns the records kept under key, or makes them and keeps
	// them for ttl seconds: signatures made on the spot are made once
	// per name and type while they would be cached anyway.
	Proof(key string, ttl uint32, make func() []dns.RR) []dns.RR
}

// Complete signs what a fault made in a signed zone, as an online signer
// would: each RRset of the answer and authority sections that lacks an
// RRSIG gets one, and a negative answer without NSEC records gets
// minimally covering ones ("white lies", RFC 4470) for name. The zones'
// own answers come signed already, and are left as they are.
func Complete(m *dns.Msg, name string, qtype uint16, z Zones, window Validity) {
	m.Answer = signUnsigned(m.Answer, z, window)
	if !hasType(m.Ns, dns.TypeNSEC) && !hasType(m.Ns, dns.TypeNSEC3) {
		zone, p := z.NSEC3(name)
		ttl := z.NegativeTTL(name)
		key := strings.ToLower(name) + "/" + dns.TypeToString[qtype]
		switch {
		case m.Rcode == dns.RcodeNameError && p != nil:
			m.Ns = append(m.Ns, z.Proof("nxdomain3/"+key, ttl, func() []dns.RR { return nsec3NXDOMAIN(zone, name, p, z, window) })...)
		case m.Rcode == dns.RcodeNameError:
			m.Ns = append(m.Ns, z.Proof("nxdomain/"+key, ttl, func() []dns.RR { return nxdomainProof(name, z, window) })...)
		case m.Rcode == dns.RcodeSuccess && !answers(m, name, qtype) && p != nil:
			m.Ns = append(m.Ns, z.Proof("nodata3/"+key, ttl, func() []dns.RR { return nsec3NODATA(zone, name, qtype, p, z, window) })...)
		case m.Rcode == dns.RcodeSuccess && !answers(m, name, qtype):
			m.Ns = append(m.Ns, z.Proof("nodata/"+key, ttl, func() []dns.RR { return nodataProof(name, qtype, z, window) })...)
		}
	}
	m.Ns = signUnsigned(m.Ns, z, window)
}

// answers tells whether m holds records of qtype (or a CNAME) at name.
func answers(m *dns.Msg, name string, qtype uint16) bool {
	for _, rr := range m.Answer {
		h := rr.Header()
		if (h.Rrtype == qtype || h.Rrtype == dns.TypeCNAME || qtype == dns.TypeANY) && strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// nxdomainProof is a signed NSEC that covers name and one that covers the
// wildcard at its parent, the closest encloser the proof claims.
func nxdomainProof(name string, z Zones, window Validity) []dns.RR {
	ttl := z.NegativeTTL(name)
	out := signed(NSEC(Before(name), After(name), nil, ttl), z, window)
	if p := Parent(name); p != "" {
		wild := "*." + p
		if p == "." {
			wild = "*."
		}
		out = append(out, signed(NSEC(Before(wild), After(wild), nil, ttl), z, window)...)
	}
	return out
}

// nodataProof is a signed NSEC at name that lists the types name has,
// except qtype and CNAME (either would contradict the NODATA).
func nodataProof(name string, qtype uint16, z Zones, window Validity) []dns.RR {
	var types []uint16
	if have, _ := z.Types(strings.ToLower(name)); have != nil {
		for _, t := range have {
			if t != qtype && t != dns.TypeCNAME {
				types = append(types, t)
			}
		}
	}
	return signed(NSEC(name, After(name), types, z.NegativeTTL(name)), z, window)
}

// signed returns rr and its RRSIG, or rr alone outside signed zones.
func signed(rr dns.RR, z Zones, window Validity) []dns.RR {
	out := []dns.RR{rr}
	if key := z.SignerOf(rr.Header().Name, rr.Header().Rrtype); key != nil {
		if sig := Sign(key, out, window); sig != nil {
			out = append(out, sig)
		}
	}
	return out
}

// signUnsigned appends an RRSIG for each RRset of section that a signed
// zone holds and that has none.
func signUnsigned(section []dns.RR, z Zones, window Validity) []dns.RR {
	for _, set := range rrsets(section) {
		if set.sig != nil {
			continue
		}
		h := set.records[0].Header()
		if h.Rrtype == dns.TypeNS && !isApexNS(set.records, z) {
			continue // a referral's NS are the child's
		}
		t := h.Rrtype
		if nsec, ok := set.records[0].(*dns.NSEC); ok && !slices.Contains(nsec.TypeBitMap, dns.TypeSOA) {
			// An NSEC without SOA at a zone's apex is its parent's, at the
			// cut: signed by whoever signs the DS there.
			t = dns.TypeDS
		}
		if key := z.SignerOf(h.Name, t); key != nil {
			if sig := Sign(key, set.records, window); sig != nil {
				section = append(section, sig)
			}
		}
	}
	return section
}

// isApexNS tells whether an NS RRset is at its zone's apex: the signer
// of an NS RRset is its owner's zone, whose DNSKEY owner is the apex.
func isApexNS(ns []dns.RR, z Zones) bool {
	key := z.SignerOf(ns[0].Header().Name, dns.TypeNS)
	return key != nil && strings.EqualFold(key.DNSKEY.Hdr.Name, ns[0].Header().Name)
}

// rrset is one RRset of a section and its RRSIG, if it has one.
type rrset struct {
	records []dns.RR
	sig     *dns.RRSIG
}

// rrsets groups section into RRsets, in the order they first appear.
func rrsets(section []dns.RR) []*rrset {
	var out []*rrset
	find := func(name string, t uint16) *rrset {
		for _, s := range out {
			h := s.records[0].Header()
			if h.Rrtype == t && strings.EqualFold(h.Name, name) {
				return s
			}
		}
		return nil
	}
	for _, rr := range section {
		if _, ok := rr.(*dns.RRSIG); ok {
			continue
		}
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		if s := find(h.Name, h.Rrtype); s != nil {
			s.records = append(s.records, rr)
			continue
		}
		out = append(out, &rrset{records: []dns.RR{rr}})
	}
	for _, rr := range section {
		if sig, ok := rr.(*dns.RRSIG); ok {
			if s := find(sig.Hdr.Name, sig.TypeCovered); s != nil && s.sig == nil {
				s.sig = sig
			}
		}
	}
	return out
}

func hasType(section []dns.RR, t uint16) bool {
	for _, rr := range section {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

// Parent returns name without its first label: "." for a top-level
// name, "" for the root.
func Parent(name string) string {
	if name == "." || name == "" {
		return ""
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}
