package dnssec

import (
	"time"

	"github.com/miekg/dns"
)

// Validity is the window a signature is valid in.
type Validity struct {
	Inception, Expiration time.Time
}

// ValidAround is the window of signatures made at now: valid from an
// hour before (clocks disagree), for a year. A real signer signs for
// weeks and signs again; dnsfault signs when a scenario loads, and a
// server left running for a game-day environment must not start failing
// validation on its own.
func ValidAround(now time.Time) Validity {
	return Validity{Inception: now.Add(-time.Hour), Expiration: now.Add(365 * 24 * time.Hour)}
}

// Sign returns the RRSIG of rrset (records of one owner, type and class)
// by key over window, or nil when it cannot be made.
func Sign(key *Key, rrset []dns.RR, window Validity) *dns.RRSIG {
	return signAs(key, key.DNSKEY.Hdr.Name, rrset, window)
}

// signAs is Sign with the signer's name given: a stranger key signs in a
// zone's name.
func signAs(key *Key, signer string, rrset []dns.RR, window Validity) *dns.RRSIG {
	if len(rrset) == 0 {
		return nil
	}
	h := rrset[0].Header()
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: h.Class, Ttl: h.Ttl},
		Algorithm:  key.DNSKEY.Algorithm,
		SignerName: signer,
		KeyTag:     key.Tag,
		Inception:  uint32(window.Inception.Unix()),
		Expiration: uint32(window.Expiration.Unix()),
	}
	if err := sig.Sign(key.Signer, rrset); err != nil {
		return nil
	}
	return sig
}

// NSEC returns the NSEC record at owner that points to next and lists
// types, plus NSEC and RRSIG themselves, with the negative TTL ttl.
func NSEC(owner, next string, types []uint16, ttl uint32) *dns.NSEC {
	bitmap := append([]uint16{dns.TypeNSEC, dns.TypeRRSIG}, types...)
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: next,
		TypeBitMap: sortedTypes(bitmap),
	}
}

// sortedTypes returns types in increasing order without repeats, as the
// type bitmap is packed.
func sortedTypes(types []uint16) []uint16 {
	out := make([]uint16, 0, len(types))
	for _, t := range types {
		i := 0
		for i < len(out) && out[i] < t {
			i++
		}
		if i < len(out) && out[i] == t {
			continue
		}
		out = append(out, 0)
		copy(out[i+1:], out[i:])
		out[i] = t
	}
	return out
}

// NSEC3 returns the NSEC3 record at owner (the hashed name and the zone)
// that points to next (a hash, base32hex) and lists types, with SHA-1,
// no opt-out, the zone's iterations and salt, and the negative TTL ttl.
func NSEC3(owner, next string, types []uint16, iterations uint16, salt string, ttl uint32) *dns.NSEC3 {
	return &dns.NSEC3{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: ttl},
		Hash:       dns.SHA1,
		Iterations: iterations,
		SaltLength: uint8(len(salt) / 2),
		Salt:       salt,
		HashLength: 20,
		NextDomain: next,
		TypeBitMap: sortedTypes(types),
	}
}
