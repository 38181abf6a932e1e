package zone

import (
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnssec"
	"github.com/dnsfault/dnsfault/scenarios"
)

// signed is a signed zone's DNSSEC data, made once when the Set is built:
// answers take signatures from here and never sign per query.
type signed struct {
	key *dnssec.Key
	// sigs holds the RRSIG of each authoritative RRset, by owner and the
	// type it covers (NSEC included).
	sigs map[string]map[uint16]dns.RR
	// negSOASig is the SOA's RRSIG with the negative TTL, for the
	// authority section of negative answers.
	negSOASig dns.RR
	nsec      map[string]dns.RR // the NSEC record at each owner
	// nsec3, when set, is the zone's NSEC3 chain: its proofs replace
	// the NSEC ones (and nsec, chain and chainKeys are empty).
	nsec3 *nsec3Chain
	// chain is the owners with an NSEC record in canonical order, and
	// chainKeys their dnssec.CanonicalKey, for finding the NSEC that
	// covers a name by binary search.
	chain     []string
	chainKeys []string
}

// Signing is how a Set signs its zones: the key of each signed zone's
// origin, and the signatures' validity.
type Signing struct {
	Keys   map[string]*dnssec.Key
	Window dnssec.Validity
	// NSEC3 holds the NSEC3 parameters of the zones that deny with NSEC3.
	NSEC3 map[string]*scenarios.NSEC3Params
}

// Key returns the key that signs name's zone, or nil when it is unsigned
// or in no zone.
func (s *Set) Key(name string) *dnssec.Key {
	if z := s.find(name); z != nil && z.signed != nil {
		return z.signed.key
	}
	return nil
}

// SignerOf returns the key that signs the RRset at owner of type t: for a
// DS, the parent's (the zone above owner's cut); nil when unsigned.
func (s *Set) SignerOf(owner string, t uint16) *dnssec.Key {
	owner = strings.ToLower(owner)
	if t == dns.TypeDS {
		if z := s.find(owner); z != nil && z.origin == owner {
			if p := s.find(parent(owner)); p != nil && p.signed != nil {
				return p.signed.key
			}
			return nil
		}
	}
	return s.Key(owner)
}

// Signed tells whether name is inside a signed zone.
func (s *Set) Signed(name string) bool { return s.Key(name) != nil }

// NSEC3 returns the origin of name's zone and, when the zone is signed
// with NSEC3, its parameters.
func (s *Set) NSEC3(name string) (string, *scenarios.NSEC3Params) {
	z := s.find(strings.ToLower(name))
	if z == nil {
		return "", nil
	}
	if z.signed == nil || z.signed.nsec3 == nil {
		return z.origin, nil
	}
	p := z.signed.nsec3.params
	return z.origin, &p
}

// NegativeTTL is the TTL of negative answers about name (its zone's, or
// the synthetic SOA's), which NSEC records take too (RFC 9077).
func (s *Set) NegativeTTL(name string) uint32 { return s.NegativeSOA(name).Header().Ttl }

// Types returns the types that exist at name in its zone (nil for a name
// that does not exist), and whether name exists.
func (s *Set) Types(name string) ([]uint16, bool) {
	z := s.find(name)
	if z == nil {
		return nil, false
	}
	records, ok := z.names[name]
	var types []uint16
	for t, rrs := range records {
		if len(rrs) > 0 {
			types = append(types, t)
		}
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	return types, ok
}

// delegateChildren gives each zone's parent in the set a delegation to
// it: the child's NS at the cut when the parent has none, and, when both
// are signed, the DS of the child's key. Then the parent answers DS
// queries for the child as an authority for both would.
func (s *Set) delegateChildren(sign *Signing) {
	for origin, child := range s.zones {
		p := s.find(parent(origin))
		if p == nil || origin == "." {
			continue
		}
		at := p.names[origin]
		if at == nil {
			at = map[uint16][]dns.RR{}
			p.names[origin] = at
			p.addEmptyNonTerminals(origin)
		}
		if len(at[dns.TypeNS]) == 0 {
			at[dns.TypeNS] = child.names[origin][dns.TypeNS] // given or made (completeApex)
		}
		if p.cuts == nil {
			p.cuts = map[string]bool{}
		}
		p.cuts[origin] = true
		if key := sign.Keys[origin]; key != nil && len(at[dns.TypeDS]) == 0 {
			at[dns.TypeDS] = []dns.RR{key.DS()}
		}
	}
}

// sign makes z's DNSSEC data with key: the DNSKEY at the apex, the NSEC
// chain over every owner the zone is authoritative for (delegations
// included, glue below them left out), or with nsec3 the NSEC3 chain over
// those names and the empty non-terminals, and an RRSIG for each of their
// RRsets (at a delegation, only the DS and NSEC).
func (z *zone) sign(key *dnssec.Key, window dnssec.Validity, nsec3 *scenarios.NSEC3Params) {
	apex := z.names[z.origin] // with its SOA and NS (completeApex)
	dnskey := dns.Copy(key.DNSKEY)
	dnskey.Header().Name = z.origin
	dnskey.Header().Ttl = z.soa.Hdr.Ttl // as Knot's dnskey-ttl: the SOA's
	apex[dns.TypeDNSKEY] = []dns.RR{dnskey}
	if nsec3 != nil {
		apex[dns.TypeNSEC3PARAM] = []dns.RR{&dns.NSEC3PARAM{
			// The negative TTL, as Knot gives it.
			Hdr:  dns.RR_Header{Name: z.origin, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: z.negSOA.Header().Ttl},
			Hash: dns.SHA1, Iterations: nsec3.Iterations, SaltLength: uint8(len(nsec3.Salt) / 2), Salt: nsec3.Salt,
		}}
	}

	sd := &signed{key: key, sigs: map[string]map[uint16]dns.RR{}, nsec: map[string]dns.RR{}}
	var authoritative []string // every name the zone answers for, empty non-terminals included
	for name, records := range z.names {
		if z.belowCut(name) {
			continue
		}
		authoritative = append(authoritative, name)
		if records != nil {
			sd.chain = append(sd.chain, name)
		}
	}
	sort.Slice(sd.chain, func(i, j int) bool { return dnssec.Less(sd.chain[i], sd.chain[j]) })
	sd.chainKeys = make([]string, len(sd.chain))
	ttl := z.negSOA.Header().Ttl
	for i, name := range sd.chain {
		sd.chainKeys[i] = dnssec.CanonicalKey(name)
		records := z.names[name]
		sigs := map[uint16]dns.RR{}
		var types []uint16
		for t, rrs := range records {
			if len(rrs) == 0 {
				continue
			}
			types = append(types, t)
			if z.cuts[name] && t != dns.TypeDS {
				continue // the child's data: not signed by the parent
			}
			if sig := dnssec.Sign(key, rrs, window); sig != nil {
				sigs[t] = sig
			}
		}
		sd.sigs[name] = sigs
		if nsec3 != nil {
			continue
		}
		next := sd.chain[(i+1)%len(sd.chain)]
		nsec := dnssec.NSEC(name, next, types, ttl)
		sd.nsec[name] = nsec
		if sig := dnssec.Sign(key, []dns.RR{nsec}, window); sig != nil {
			sigs[dns.TypeNSEC] = sig
		}
	}
	if nsec3 != nil {
		sd.nsec3 = z.signNSEC3(*nsec3, authoritative, key, window, ttl)
		sd.chain, sd.chainKeys = nil, nil
	}
	if sig := sd.sigs[z.origin][dns.TypeSOA]; sig != nil {
		c := dns.Copy(sig)
		c.Header().Ttl = ttl
		sd.negSOASig = c
	}
	z.signed = sd
}

// belowCut tells whether name lies strictly below a delegation: glue,
// which the zone holds but is not authoritative for.
func (z *zone) belowCut(name string) bool {
	cut := z.cut(name)
	return cut != "" && cut != name
}

// sigOf returns the RRSIG over the RRset (owner, t), owned by name (the
// queried name, for a wildcard's answer), or nil.
func (sd *signed) sigOf(owner string, t uint16, name string, wild bool) dns.RR {
	sig := sd.sigs[owner][t]
	if sig == nil {
		return nil
	}
	return owned(sig, name, wild)
}

// covering returns the NSEC whose owner comes before name with the next
// owner after it, and its RRSIG.
func (sd *signed) covering(name string) []dns.RR {
	k := dnssec.CanonicalKey(name)
	i := sort.SearchStrings(sd.chainKeys, k)
	if i < len(sd.chainKeys) && sd.chainKeys[i] == k {
		return sd.at(name) // name is an owner: its own NSEC
	}
	i-- // the last owner before name
	if i < 0 {
		i = len(sd.chain) - 1
	}
	return sd.at(sd.chain[i])
}

// at returns the NSEC at owner and its RRSIG; nil when owner has none.
func (sd *signed) at(owner string) []dns.RR {
	nsec := sd.nsec[owner]
	if nsec == nil {
		return nil
	}
	return []dns.RR{nsec, sd.sigs[owner][dns.TypeNSEC]}
}

// appendUnique appends the records of add that out lacks (the same
// NSEC may prove two things).
func appendUnique(out []dns.RR, add []dns.RR) []dns.RR {
next:
	for _, rr := range add {
		for _, have := range out {
			if have == rr {
				continue next
			}
		}
		out = append(out, rr)
	}
	return out
}

// closestEncloser returns the nearest ancestor of name (a name that does
// not exist) that does, empty non-terminals included.
func (z *zone) closestEncloser(name string) string {
	for n := parent(name); n != ""; n = parent(n) {
		if _, ok := z.names[n]; ok {
			return n
		}
		if n == z.origin {
			break
		}
	}
	return z.origin
}
