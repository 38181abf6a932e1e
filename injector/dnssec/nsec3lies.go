package dnssec

import (
	"encoding/base32"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// NSEC3 white lies: the NSEC3 records an online signer makes up for a
// negative answer in an NSEC3 zone, each covering or matching one hash
// and nothing around it.

var base32hex = base32.HexEncoding.WithPadding(base32.NoPadding)

// lie is an NSEC3 of the zone of name with owner hash h and next hash
// next (base32hex), listing types, signed.
func lie(zone string, h, next string, types []uint16, p *scenarios.NSEC3Params, ttl uint32, z Zones, window Validity) []dns.RR {
	return signed(NSEC3(strings.ToLower(h)+"."+zone, strings.ToUpper(next), types, p.Iterations, p.Salt, ttl), z, window)
}

// hashOf is name's NSEC3 hash under p, base32hex.
func hashOf(name string, p *scenarios.NSEC3Params) string {
	return dns.HashName(name, dns.SHA1, p.Iterations, p.Salt)
}

// step adds delta (+1 or -1) to a base32hex hash taken as a number,
// wrapping around.
func step(h string, delta int) string {
	b, err := base32hex.DecodeString(strings.ToUpper(h))
	if err != nil {
		return h
	}
	for i := len(b) - 1; i >= 0; i-- {
		old := b[i]
		b[i] = byte(int(b[i]) + delta)
		if (delta > 0 && b[i] > old) || (delta < 0 && b[i] < old) {
			break // no carry
		}
	}
	return base32hex.EncodeToString(b)
}

// coverLie covers name's hash: from just before it to just after it.
func coverLie(zone, name string, p *scenarios.NSEC3Params, ttl uint32, z Zones, window Validity) []dns.RR {
	h := hashOf(name, p)
	return lie(zone, step(h, -1), step(h, +1), nil, p, ttl, z, window)
}

// matchLie matches name's hash, listing types (and RRSIG, when there are
// any).
func matchLie(zone, name string, types []uint16, p *scenarios.NSEC3Params, ttl uint32, z Zones, window Validity) []dns.RR {
	if len(types) > 0 {
		types = append(types, dns.TypeRRSIG)
	}
	h := hashOf(name, p)
	return lie(zone, h, step(h, +1), types, p, ttl, z, window)
}

// nsec3NXDOMAIN is the closest encloser proof for name, whose parent is
// claimed as its closest encloser (RFC 5155 7.2.2).
func nsec3NXDOMAIN(zone, name string, p *scenarios.NSEC3Params, z Zones, window Validity) []dns.RR {
	ttl := z.NegativeTTL(name)
	ce := Parent(name)
	types, _ := z.Types(strings.ToLower(ce))
	out := matchLie(zone, ce, types, p, ttl, z, window)
	out = append(out, coverLie(zone, name, p, ttl, z, window)...)
	return append(out, coverLie(zone, "*."+ce, p, ttl, z, window)...)
}

// nsec3NODATA matches name with the types it has but qtype and CNAME
// (RFC 5155 7.2.3).
func nsec3NODATA(zone, name string, qtype uint16, p *scenarios.NSEC3Params, z Zones, window Validity) []dns.RR {
	var types []uint16
	have, _ := z.Types(strings.ToLower(name))
	for _, t := range have {
		if t != qtype && t != dns.TypeCNAME {
			types = append(types, t)
		}
	}
	return matchLie(zone, name, types, p, z.NegativeTTL(name), z, window)
}
