package dnssec

import (
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// day is a day. Broken validity windows are a week out: validators allow
// clock skew of up to a day (unbound: val-sig-skew-max).
const day = 24 * time.Hour

// Break applies the DNSSEC fault f to m, the answer to (name, qtype) from
// a signed zone, at now. Records are copied before they change: answers
// share them with the zones.
func Break(m *dns.Msg, f scenarios.DNSSECFault, name string, qtype uint16, z Zones, now time.Time) {
	valid := ValidAround(now)
	switch f {
	case scenarios.SigExpired:
		resign(m, z, func(key *Key, set []dns.RR) *dns.RRSIG {
			return Sign(key, set, Validity{Inception: now.Add(-37 * day), Expiration: now.Add(-7 * day)})
		})
	case scenarios.SigNotYetValid:
		resign(m, z, func(key *Key, set []dns.RR) *dns.RRSIG {
			return Sign(key, set, Validity{Inception: now.Add(7 * day), Expiration: now.Add(37 * day)})
		})
	case scenarios.SigBogus:
		resign(m, z, func(key *Key, set []dns.RR) *dns.RRSIG {
			sig := Sign(key, set, valid)
			if sig != nil {
				sig.OrigTtl++ // the signature is over the set with its old TTL: other data
			}
			return sig
		})
	case scenarios.SigWrongKey:
		resign(m, z, func(key *Key, set []dns.RR) *dns.RRSIG {
			return signAs(strangerFor(key), key.DNSKEY.Hdr.Name, set, valid)
		})
	case scenarios.UnsupportedAlgorithm:
		resign(m, z, func(key *Key, set []dns.RR) *dns.RRSIG {
			sig := Sign(key, set, valid)
			if sig != nil {
				sig.Algorithm = dns.PRIVATEDNS
			}
			return sig
		})
	case scenarios.RRSIGsMissing:
		m.Answer, m.Ns = Without(m.Answer, dns.TypeRRSIG), Without(m.Ns, dns.TypeRRSIG)
	case scenarios.DNSKEYMissing:
		if qtype == dns.TypeDNSKEY {
			m.Answer = withoutSets(m.Answer, dns.TypeDNSKEY)
			if len(m.Answer) == 0 {
				m.Ns = append(m.Ns[:0:0], nodataProof(name, dns.TypeDNSKEY, withoutDNSKEY{z}, valid)...)
			}
		}
	case scenarios.DNSKEYReplaced:
		if qtype == dns.TypeDNSKEY && hasType(m.Answer, dns.TypeDNSKEY) {
			key := z.SignerOf(name, dns.TypeDNSKEY)
			if key != nil {
				other := strangerFor(key)
				dnskey := dns.Copy(other.DNSKEY)
				dnskey.Header().Name = m.Answer[0].Header().Name
				m.Answer = []dns.RR{dnskey}
				if sig := signAs(other, key.DNSKEY.Hdr.Name, m.Answer, valid); sig != nil {
					m.Answer = append(m.Answer, sig)
				}
			}
		}
	case scenarios.DSMismatch:
		m.Answer = mismatchDS(m.Answer, z, valid)
		m.Ns = mismatchDS(m.Ns, z, valid)
	case scenarios.NSECMissing:
		m.Ns = withoutDenial(m.Ns)
	case scenarios.NSECNotCovering:
		if hasType(m.Ns, dns.TypeNSEC) || hasType(m.Ns, dns.TypeNSEC3) {
			m.Ns = append(withoutDenial(m.Ns), notCovering(name, z, valid)...)
		}
	case scenarios.NSECHidesTypes:
		if m.Rcode == dns.RcodeSuccess && !answers(m, name, qtype) {
			m.Ns = append(withoutDenial(m.Ns), noTypes(name, z, valid)...)
		}
	case scenarios.Unsigned:
		for _, t := range []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM, dns.TypeDNSKEY} {
			m.Answer, m.Ns = Without(m.Answer, t), Without(m.Ns, t)
		}
	}
}

// withoutDenial returns section without its NSEC and NSEC3 records and
// their RRSIGs.
func withoutDenial(section []dns.RR) []dns.RR {
	return withoutSets(withoutSets(section, dns.TypeNSEC), dns.TypeNSEC3)
}

// notCovering is a validly signed denial record that does not cover
// name: the NSEC or NSEC3 interval just after it.
func notCovering(name string, z Zones, valid Validity) []dns.RR {
	ttl := z.NegativeTTL(name)
	if zone, p := z.NSEC3(name); p != nil {
		h := step(hashOf(name, p), +1)
		return lie(zone, h, step(h, +1), nil, p, ttl, z, valid)
	}
	past := After(name)
	return signed(NSEC(past, After(past), nil, ttl), z, valid)
}

// noTypes is a validly signed NSEC (or NSEC3) at name that lists no type
// of its own: the name exists and has nothing, so no A either.
func noTypes(name string, z Zones, valid Validity) []dns.RR {
	ttl := z.NegativeTTL(name)
	if zone, p := z.NSEC3(name); p != nil {
		return matchLie(zone, name, nil, p, ttl, z, valid)
	}
	return signed(NSEC(name, After(name), nil, ttl), z, valid)
}

// resign replaces every RRSIG of the answer and authority sections by
// sign's signature over the RRset it covers.
func resign(m *dns.Msg, z Zones, sign func(key *Key, set []dns.RR) *dns.RRSIG) {
	m.Answer = resignSection(m.Answer, z, sign)
	m.Ns = resignSection(m.Ns, z, sign)
}

func resignSection(section []dns.RR, z Zones, sign func(key *Key, set []dns.RR) *dns.RRSIG) []dns.RR {
	sets := rrsets(section)
	out := Without(section, dns.TypeRRSIG)
	for _, set := range sets {
		if set.sig == nil {
			continue
		}
		key := z.SignerOf(set.records[0].Header().Name, set.records[0].Header().Rrtype)
		if key == nil {
			out = append(out, set.sig) // not ours to break
			continue
		}
		records := set.records
		if labels := int(set.sig.Labels); labels < dns.CountLabel(records[0].Header().Name) {
			records = asWildcard(records, labels) // signed as the wildcard it came from
		}
		sig := sign(key, records)
		if sig == nil {
			continue
		}
		sig.Hdr.Name, sig.Hdr.Ttl = set.sig.Hdr.Name, set.sig.Hdr.Ttl
		out = append(out, sig)
	}
	return out
}

// asWildcard returns copies of records owned by the wildcard of labels
// labels that made them.
func asWildcard(records []dns.RR, labels int) []dns.RR {
	parts := dns.SplitDomainName(records[0].Header().Name)
	owner := "*." + strings.Join(parts[len(parts)-labels:], ".") + "."
	out := make([]dns.RR, len(records))
	for i, rr := range records {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = owner
	}
	return out
}

// mismatchDS replaces the DS records of section by the DS of a key the
// child does not have, validly signed by the parent.
func mismatchDS(section []dns.RR, z Zones, valid Validity) []dns.RR {
	var out []dns.RR
	var ds []dns.RR
	for _, rr := range section {
		switch r := rr.(type) {
		case *dns.DS:
			key := z.SignerOf(r.Hdr.Name, dns.TypeDS)
			if key == nil {
				out = append(out, rr)
				continue
			}
			fake := strangerFor(key).DNSKEY.ToDS(r.DigestType)
			if fake == nil {
				continue
			}
			fake.Hdr = r.Hdr
			ds = append(ds, fake)
		case *dns.RRSIG:
			if r.TypeCovered != dns.TypeDS {
				out = append(out, rr)
			}
		default:
			out = append(out, rr)
		}
	}
	if len(ds) > 0 {
		out = append(out, ds...)
		if key := z.SignerOf(ds[0].Header().Name, dns.TypeDS); key != nil {
			if sig := Sign(key, ds, valid); sig != nil {
				out = append(out, sig)
			}
		}
	}
	return out
}

// Without returns section without the records of type t.
func Without(section []dns.RR, t uint16) []dns.RR {
	out := make([]dns.RR, 0, len(section))
	for _, rr := range section {
		if rr.Header().Rrtype != t {
			out = append(out, rr)
		}
	}
	return out
}

// withoutSets returns section without the records of type t and the
// RRSIGs over them.
func withoutSets(section []dns.RR, t uint16) []dns.RR {
	out := make([]dns.RR, 0, len(section))
	for _, rr := range section {
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == t || rr.Header().Rrtype == t {
			continue
		}
		out = append(out, rr)
	}
	return out
}

// withoutDNSKEY is a zone whose apex has no DNSKEY, for the NODATA proof
// of dnskey-missing.
type withoutDNSKEY struct{ Zones }

func (w withoutDNSKEY) Types(name string) ([]uint16, bool) {
	types, ok := w.Zones.Types(name)
	kept := types[:0:0]
	for _, t := range types {
		if t != dns.TypeDNSKEY {
			kept = append(kept, t)
		}
	}
	return kept, ok
}

// strangers are keys no zone publishes, one per algorithm, made once:
// they sign what the wrong-key, dnskey-replaced and ds-mismatch faults
// make.
var strangers sync.Map // algorithm → *Key

// strangerFor returns the stranger key of key's algorithm.
func strangerFor(key *Key) *Key {
	alg := key.DNSKEY.Algorithm
	if k, ok := strangers.Load(alg); ok {
		return k.(*Key)
	}
	k, err := GenerateKey("stranger.invalid.", alg)
	if err != nil {
		return key // cannot happen for the algorithms dnsfault signs with
	}
	actual, _ := strangers.LoadOrStore(alg, k)
	return actual.(*Key)
}
