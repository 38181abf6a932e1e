package zone

import (
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnssec"
)

// Transfer returns the records of the zone whose apex is origin, as an
// AXFR sends them (RFC 5936): its SOA first and last, and between them
// every other record the zone holds, delegations and glue included, with
// its DNSSEC data when signed (DNSKEY, NSEC or NSEC3 and NSEC3PARAM, and
// each RRSIG). ok is false when no zone has that apex.
func (s *Set) Transfer(origin string) (records []dns.RR, ok bool) {
	z := s.zones[strings.ToLower(origin)]
	if z == nil {
		return nil, false
	}
	names := make([]string, 0, len(z.names))
	for name := range z.names {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return dnssec.Less(names[i], names[j]) })
	soa := z.names[z.origin][dns.TypeSOA][0]
	records = append(records, soa)
	if sd := z.signed; sd != nil {
		records = append(records, sd.sigs[z.origin][dns.TypeSOA])
	}
	for _, name := range names {
		types := make([]uint16, 0, len(z.names[name]))
		for t, rrs := range z.names[name] {
			if len(rrs) > 0 && !(name == z.origin && t == dns.TypeSOA) {
				types = append(types, t)
			}
		}
		sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
		for _, t := range types {
			records = append(records, z.names[name][t]...)
			if sd := z.signed; sd != nil && sd.sigs[name][t] != nil {
				records = append(records, sd.sigs[name][t])
			}
		}
		if sd := z.signed; sd != nil && sd.nsec[name] != nil {
			records = append(records, sd.nsec[name], sd.sigs[name][dns.TypeNSEC])
		}
	}
	if sd := z.signed; sd != nil && sd.nsec3 != nil {
		for _, h := range sd.nsec3.hashes {
			records = append(records, sd.nsec3.records[h]...)
		}
	}
	return append(records, soa), true
}
