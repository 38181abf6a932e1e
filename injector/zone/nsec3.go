package zone

import (
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnssec"
	"github.com/dnsfault/dnsfault/scenarios"
)

// nsec3Chain is a signed zone's NSEC3 chain (RFC 5155): a record for each
// name the zone is authoritative for, empty non-terminals included,
// ordered by the hashes of the names.
type nsec3Chain struct {
	params  scenarios.NSEC3Params
	hashes  []string            // sorted, lower-case base32hex
	records map[string][]dns.RR // by hash: the NSEC3 and its RRSIG
}

// hash is name's NSEC3 hash, lower-case base32hex, as owners carry it.
func (c *nsec3Chain) hash(name string) string {
	return strings.ToLower(dns.HashName(name, dns.SHA1, c.params.Iterations, c.params.Salt))
}

// match returns the NSEC3 of name, which exists, and its RRSIG.
func (c *nsec3Chain) match(name string) []dns.RR { return c.records[c.hash(name)] }

// cover returns the NSEC3 whose hash comes before name's with the next
// hash after it (wrapping around), and its RRSIG.
func (c *nsec3Chain) cover(name string) []dns.RR {
	h := c.hash(name)
	i := sort.SearchStrings(c.hashes, h) - 1
	if i < 0 {
		i = len(c.hashes) - 1
	}
	return c.records[c.hashes[i]]
}

// signNSEC3 builds z's NSEC3 chain over names (each with the types it
// holds), signed by key; sigs gains each record's RRSIG.
func (z *zone) signNSEC3(p scenarios.NSEC3Params, names []string, key *dnssec.Key, window dnssec.Validity, ttl uint32) *nsec3Chain {
	c := &nsec3Chain{params: p, records: map[string][]dns.RR{}}
	owner := map[string]string{} // hash → name
	for _, name := range names {
		h := c.hash(name)
		owner[h] = name
		c.hashes = append(c.hashes, h)
	}
	sort.Strings(c.hashes)
	for i, h := range c.hashes {
		name := owner[h]
		var types []uint16
		signed := false
		for t, rrs := range z.names[name] {
			if len(rrs) == 0 {
				continue
			}
			types = append(types, t)
			signed = signed || !z.cuts[name] || t == dns.TypeDS
		}
		if signed {
			types = append(types, dns.TypeRRSIG)
		}
		next := c.hashes[(i+1)%len(c.hashes)]
		rec := dnssec.NSEC3(h+"."+z.origin, strings.ToUpper(next), types, p.Iterations, p.Salt, ttl)
		c.records[h] = []dns.RR{rec}
		if sig := dnssec.Sign(key, []dns.RR{rec}, window); sig != nil {
			c.records[h] = append(c.records[h], sig)
		}
	}
	return c
}

// The proofs a signed zone's negative answers carry, with NSEC or NSEC3.

// nxdomain proves that name, whose closest encloser is ce, does not
// exist, nor a wildcard that could have made it (RFC 4035 3.1.3.2, RFC
// 5155 7.2.2).
func (sd *signed) nxdomain(name, ce string) []dns.RR {
	if c := sd.nsec3; c != nil {
		out := appendUnique(nil, c.match(ce))
		out = appendUnique(out, c.cover(nextCloser(name, ce)))
		return appendUnique(out, c.cover("*."+ce))
	}
	return appendUnique(sd.covering(name), sd.covering("*."+ce))
}

// wildcardAnswer proves that name, answered from the wildcard at ce, does
// not exist itself (RFC 4035 3.1.3.3, RFC 5155 7.2.6).
func (sd *signed) wildcardAnswer(name, ce string) []dns.RR {
	if c := sd.nsec3; c != nil {
		return c.cover(nextCloser(name, ce))
	}
	return sd.covering(name)
}

// wildcardNodata is what a NODATA answer from a wildcard adds to the
// wildcard answer's proof: with NSEC3, the closest encloser's match
// (RFC 5155 7.2.5).
func (sd *signed) wildcardNodata(ce string) []dns.RR {
	if c := sd.nsec3; c != nil {
		return c.match(ce)
	}
	return nil
}

// nodata proves that owner, which exists (an empty non-terminal
// included), lacks the type asked (RFC 4035 3.1.3.1, RFC 5155 7.2.3).
func (sd *signed) nodata(owner string) []dns.RR {
	if c := sd.nsec3; c != nil {
		return c.match(owner)
	}
	if at := sd.at(owner); at != nil {
		return at
	}
	return sd.covering(owner) // an empty non-terminal has no NSEC of its own
}

// nextCloser is the name one label longer than ce on the way to name.
func nextCloser(name, ce string) string {
	labels := dns.SplitDomainName(name)
	n := dns.CountLabel(ce) + 1
	if n > len(labels) {
		return name
	}
	return dns.Fqdn(strings.Join(labels[len(labels)-n:], "."))
}
