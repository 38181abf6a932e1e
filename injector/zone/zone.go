// Package zone answers queries from fake authoritative data, as an
// authoritative server does (Knot DNS is the reference the tests compare
// with): NXDOMAIN and NODATA carrying the zone's SOA, CNAMEs followed
// inside the zones, wildcards (RFC 4592), DNAME synthesis (RFC 6672),
// delegations answered as referrals, glue in the additional section, and
// ANY answered with one RRset (RFC 8482).
package zone

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnssec"
	"github.com/dnsfault/dnsfault/scenarios"
)

// maxChain bounds CNAME chains, so a loop in the data ends.
const maxChain = 8

// Set is the zones of one scenario. It is immutable once built.
type Set struct {
	zones  map[string]*zone // by origin
	proofs proofCache       // white lies signed for faults (Proof)
}

type zone struct {
	origin string
	soa    *dns.SOA
	negSOA dns.RR // the SOA with the negative TTL, shared read-only
	// names maps each owner to its records by type; names that exist only
	// because names below them do (empty non-terminals) map to nil.
	names map[string]map[uint16][]dns.RR
	// cuts are the delegations (NS below the apex), dnames the owners of
	// DNAME records; both nil in most zones, so most lookups skip them.
	cuts, dnames map[string]bool
	signed       *signed // nil for an unsigned zone
}

// Result is an answer from the zones.
type Result struct {
	Rcode  int
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR // glue: addresses of the NS, MX and SRV targets in the zone
	// Authoritative is false for a referral: the data is the child's.
	Authoritative bool
}

// NewSet builds a Set from scenario zones. A zone without a SOA gets a
// synthesised one, so negative answers can always be cached. A zone
// whose origin has a key in sign is signed (nil sign: none is), and a
// zone inside another is delegated from it (see delegateChildren).
func NewSet(zones []scenarios.Zone, sign *Signing) *Set {
	s := &Set{zones: make(map[string]*zone, len(zones))}
	for _, sz := range zones {
		z := &zone{origin: sz.Origin, names: map[string]map[uint16][]dns.RR{sz.Origin: nil}}
		for _, rr := range sz.Records {
			name := strings.ToLower(rr.Header().Name)
			if soa, ok := rr.(*dns.SOA); ok && name == z.origin {
				z.soa = soa
			}
			byType := z.names[name]
			if byType == nil {
				byType = map[uint16][]dns.RR{}
				z.names[name] = byType
			}
			t := rr.Header().Rrtype
			byType[t] = append(byType[t], rr)
			z.addEmptyNonTerminals(name)
			switch {
			case t == dns.TypeNS && name != z.origin:
				if z.cuts == nil {
					z.cuts = map[string]bool{}
				}
				z.cuts[name] = true
			case t == dns.TypeDNAME:
				if z.dnames == nil {
					z.dnames = map[string]bool{}
				}
				z.dnames[name] = true
			}
		}
		if z.soa == nil {
			z.soa = SyntheticSOA(z.origin)
		}
		z.completeApex()
		z.negSOA = negativeSOA(z.soa)
		s.zones[z.origin] = z
	}
	if sign == nil {
		sign = &Signing{}
	}
	s.delegateChildren(sign)
	for origin, z := range s.zones {
		if key := sign.Keys[origin]; key != nil {
			z.sign(key, sign.Window, sign.NSEC3[origin])
		}
	}
	return s
}

// completeApex gives the apex what every zone has there: its SOA (made
// up when none was given, see SyntheticSOA) and NS records (the SOA's
// primary server when none were given), so that a zone inside another
// has NS at the cut, its NSEC bitmap lists them, and a transfer of it
// is a zone any server loads.
func (z *zone) completeApex() {
	apex := z.names[z.origin]
	if apex == nil {
		apex = map[uint16][]dns.RR{}
		z.names[z.origin] = apex
	}
	if len(apex[dns.TypeSOA]) == 0 {
		apex[dns.TypeSOA] = []dns.RR{z.soa}
	}
	if len(apex[dns.TypeNS]) == 0 {
		apex[dns.TypeNS] = []dns.RR{&dns.NS{Hdr: dns.RR_Header{Name: z.origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: z.soa.Hdr.Ttl}, Ns: z.soa.Ns}}
	}
}

// addEmptyNonTerminals marks the names between name and the origin as
// existing, so they answer NODATA rather than NXDOMAIN.
func (z *zone) addEmptyNonTerminals(name string) {
	for p := parent(name); p != "" && dns.IsSubDomain(z.origin, p) && p != z.origin; p = parent(p) {
		if _, ok := z.names[p]; !ok {
			z.names[p] = nil
		}
	}
}

// Contains tells whether name (lower case, fully qualified) falls inside
// one of the zones.
func (s *Set) Contains(name string) bool { return s.find(name) != nil }

// find returns the zone with the longest origin that name is inside.
func (s *Set) find(name string) *zone {
	if len(s.zones) == 0 {
		return nil
	}
	for n := name; n != ""; n = parent(n) {
		if z := s.zones[n]; z != nil {
			return z
		}
	}
	return nil
}

// SOA returns the SOA that a negative answer for name carries: the zone's
// when name is inside one, otherwise a synthetic SOA for name's parent.
func (s *Set) SOA(name string) *dns.SOA {
	if z := s.find(name); z != nil {
		return z.soa
	}
	return syntheticSOAAbove(name)
}

// syntheticSOAAbove is the made-up SOA for a name in no zone we know:
// its parent's.
func syntheticSOAAbove(name string) *dns.SOA {
	p := parent(name)
	if p == "" {
		p = "."
	}
	return SyntheticSOA(p)
}

// SyntheticNegativeSOA is the made-up SOA for a negative answer about a
// name in no zone we know, and whose real zone nobody could tell us.
func SyntheticNegativeSOA(name string) dns.RR { return negativeSOA(syntheticSOAAbove(name)) }

// Lookup answers (name, qtype) from the zones; ok is false when name is in
// none of them. With do (the query's DO bit), answers from a signed zone
// carry their RRSIGs and NSEC proofs (RFC 4035 section 3.1). The records
// returned are the zones' own, shared by every answer: callers must copy
// a record before changing it (the slices are theirs).
func (s *Set) Lookup(name string, qtype uint16, do bool) (res Result, ok bool) {
	z := s.find(name)
	if z == nil {
		return Result{}, false
	}
	if qtype == dns.TypeDS && name == z.origin {
		// The DS of a zone is its parent's, when the parent is ours too.
		if p := s.find(parent(name)); p != nil && name != "." {
			z = p
		}
	}
	res.Authoritative = true
	for hop := 0; hop < maxChain; hop++ {
		sd := z.signed
		if !do {
			sd = nil
		}
		// Below a delegation the child answers: a referral, not AA (but
		// the DS of the cut itself is the parent's).
		if cut := z.cut(name); cut != "" && (qtype != dns.TypeDS || cut != name) {
			res.Authoritative = len(res.Answer) > 0
			res.Ns = z.names[cut][dns.TypeNS]
			if sd != nil {
				// The DS, or the NSEC proving there is none (RFC 4035 3.1.4).
				res.Ns = append(res.Ns[:len(res.Ns):len(res.Ns)], z.names[cut][dns.TypeDS]...)
				if sig := sd.sigOf(cut, dns.TypeDS, cut, false); sig != nil {
					res.Ns = append(res.Ns, sig)
				} else {
					res.Ns = append(res.Ns, sd.nodata(cut)...)
				}
			}
			res.Extra = s.glue(res.Ns, do)
			return res, true
		}
		// A DNAME above the name rewrites it (RFC 6672): the DNAME, a
		// CNAME synthesised from it, then the rewritten name's answer.
		if owner := z.dname(name); owner != "" {
			dname := z.names[owner][dns.TypeDNAME][0].(*dns.DNAME)
			target := name[:len(name)-len(owner)] + strings.ToLower(dname.Target)
			res.Answer = append(res.Answer, dname)
			if sd != nil {
				res.Answer = appendSig(res.Answer, sd.sigOf(owner, dns.TypeDNAME, owner, false))
			}
			if len(target) > 255 {
				res.Rcode = dns.RcodeYXDomain
				return res, true
			}
			res.Answer = append(res.Answer, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dname.Hdr.Ttl},
				Target: target,
			})
			if qtype == dns.TypeCNAME {
				return res, true
			}
			name = target
			if z = s.find(name); z == nil {
				return res, true // the rewritten name is not ours: the client follows it
			}
			continue
		}
		records, owner, wild, exists := z.node(name)
		if !exists {
			res.Rcode = dns.RcodeNameError
			res.Ns = []dns.RR{z.negSOA}
			if sd != nil {
				// The NSEC that covers the name, and the one that covers
				// the wildcard that could have made it (RFC 4035 3.1.3.2).
				res.Ns = appendSig(res.Ns, sd.negSOASig)
				res.Ns = appendUnique(res.Ns, sd.nxdomain(name, z.closestEncloser(name)))
			}
			return res, true
		}
		if sd != nil && wild {
			// A wildcard's answer proves the name itself does not exist.
			res.Ns = appendUnique(res.Ns, sd.wildcardAnswer(name, owner[2:]))
		}
		if cname := records[dns.TypeCNAME]; len(cname) > 0 && qtype != dns.TypeCNAME && qtype != dns.TypeANY && (z.signed == nil || qtype != dns.TypeNSEC) {
			rr := owned(cname[0], name, wild)
			res.Answer = append(res.Answer, rr)
			if sd != nil {
				res.Answer = appendSig(res.Answer, sd.sigOf(owner, dns.TypeCNAME, name, wild))
			}
			name = strings.ToLower(rr.(*dns.CNAME).Target)
			if z = s.find(name); z == nil {
				return res, true // the chain leaves our zones: the client follows it
			}
			continue
		}
		found := records[qtype]
		if qtype == dns.TypeANY {
			found = lowestType(records) // one RRset, as RFC 8482 allows
		}
		// An NSEC asked for is data, DO or not (RFC 3225 section 3): only
		// the proofs and signatures a query did not ask for need DO.
		if z.signed != nil && qtype == dns.TypeNSEC && !wild && z.signed.nsec[owner] != nil {
			found = []dns.RR{z.signed.nsec[owner]}
		}
		if len(found) == 0 {
			proof := res.Ns // a wildcard's, when one made the name
			res.Ns = []dns.RR{z.negSOA}
			if sd != nil {
				// NODATA: the NSEC at the name (or, for an empty
				// non-terminal, the one covering it) lacks the type.
				res.Ns = appendSig(res.Ns, sd.negSOASig)
				res.Ns = append(res.Ns, proof...)
				if wild {
					res.Ns = appendUnique(res.Ns, sd.wildcardNodata(owner[2:]))
				}
				res.Ns = appendUnique(res.Ns, sd.nodata(owner))
			}
			return res, true
		}
		for _, rr := range found {
			res.Answer = append(res.Answer, owned(rr, name, wild))
		}
		if sd != nil {
			res.Answer = appendSig(res.Answer, sd.sigOf(owner, found[0].Header().Rrtype, name, wild))
		}
		res.Extra = s.glue(found, do)
		return res, true
	}
	return Result{Rcode: dns.RcodeServerFailure}, true // a CNAME loop
}

// cut returns the delegation point at or above name, nearest the apex, or
// "" when name is the zone's own.
func (z *zone) cut(name string) string {
	if z.cuts == nil {
		return ""
	}
	found := ""
	for n := name; n != z.origin && n != ""; n = parent(n) {
		if z.cuts[n] {
			found = n
		}
	}
	return found
}

// dname returns the owner of a DNAME strictly above name, nearest the
// apex, or "".
func (z *zone) dname(name string) string {
	if z.dnames == nil || name == z.origin {
		return ""
	}
	found := ""
	for n := parent(name); n != ""; n = parent(n) {
		if z.dnames[n] {
			found = n
		}
		if n == z.origin {
			break
		}
	}
	return found
}

// lowestType is the RRset of the lowest type number at a node: the one
// RRset a minimal ANY answer holds (Knot DNS picks the same).
func lowestType(records map[uint16][]dns.RR) []dns.RR {
	var best []dns.RR
	lowest := -1
	for t, rrs := range records {
		if len(rrs) > 0 && (lowest < 0 || int(t) < lowest) {
			best, lowest = rrs, int(t)
		}
	}
	return best
}

// glue returns the addresses (A, then AAAA) of the NS, MX and SRV targets
// of records that lie in the zones, for the additional section; with do,
// those a signed zone is authoritative for come with their RRSIGs.
func (s *Set) glue(records []dns.RR, do bool) []dns.RR {
	var out []dns.RR
	for _, rr := range records {
		var target string
		switch r := rr.(type) {
		case *dns.NS:
			target = r.Ns
		case *dns.MX:
			target = r.Mx
		case *dns.SRV:
			target = r.Target
		default:
			continue
		}
		target = strings.ToLower(target)
		z := s.find(target)
		if z == nil {
			continue
		}
		byType := z.names[target]
		for _, t := range [...]uint16{dns.TypeA, dns.TypeAAAA} {
			out = append(out, byType[t]...)
			if do && z.signed != nil && len(byType[t]) > 0 && !z.belowCut(target) {
				out = appendSig(out, z.signed.sigOf(target, t, target, false))
			}
		}
	}
	return out
}

// node returns the records at name, synthesised from a wildcard (wild)
// when name does not exist but "*.<closest encloser>" does; owner is the
// name that holds them (the wildcard's, or name).
func (z *zone) node(name string) (records map[uint16][]dns.RR, owner string, wild, ok bool) {
	if records, ok := z.names[name]; ok {
		return records, name, false, true
	}
	for encloser := parent(name); encloser != "" && dns.IsSubDomain(z.origin, encloser); encloser = parent(encloser) {
		if _, ok := z.names[encloser]; ok {
			records, ok := z.names["*."+encloser]
			return records, "*." + encloser, true, ok
		}
	}
	return nil, "", false, false
}

// appendSig appends sig to records unless it is nil.
func appendSig(records []dns.RR, sig dns.RR) []dns.RR {
	if sig == nil {
		return records
	}
	return append(records, sig)
}

// owned returns rr as the answer for name: itself, or for a wildcard a
// copy owned by the queried name.
func owned(rr dns.RR, name string, wild bool) dns.RR {
	if !wild {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Name = name
	return c
}

// negativeSOA is the SOA for the authority section of a negative answer:
// its TTL is the negative TTL, min(TTL, MINIMUM) as RFC 2308 section 5 says.
func negativeSOA(soa *dns.SOA) dns.RR {
	c := dns.Copy(soa).(*dns.SOA)
	c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
	return c
}

// NegativeSOA returns a copy of the SOA for name, ready for the authority
// section of a negative answer.
func (s *Set) NegativeSOA(name string) dns.RR { return negativeSOA(s.SOA(name)) }

// SyntheticSOA is the SOA of zones that give none; its 60-second negative
// TTL is short so tests are not fooled by caches for long.
func SyntheticSOA(origin string) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns:      "ns.dnsfault.invalid.",
		Mbox:    "hostmaster.dnsfault.invalid.",
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  60,
	}
}

// parent returns name without its first label: "" above the root.
func parent(name string) string { return dnssec.Parent(name) }
