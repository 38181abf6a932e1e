package dnssec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Anchors writes the trust anchors of keys (the zones no signed parent
// vouches for) as DS records. format "bind" is a trust-anchors statement
// for named.conf and delv -a; any other is zone-file lines, which
// unbound's trust-anchor-file and auto-trust-anchor-file read.
func Anchors(keys []*Key, format string) string {
	sorted := append([]*Key(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return Less(sorted[i].DNSKEY.Hdr.Name, sorted[j].DNSKEY.Hdr.Name) })
	var b strings.Builder
	if format == "bind" {
		b.WriteString("# dnsfault's trust anchors: the DS of each zone it signs that no signed parent vouches for.\ntrust-anchors {\n")
		for _, k := range sorted {
			ds := k.DS()
			fmt.Fprintf(&b, "\t%q static-ds %d %d %d %q;\n", ds.Hdr.Name, ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
		}
		b.WriteString("};\n")
		return b.String()
	}
	b.WriteString("; dnsfault's trust anchors: the DS of each zone it signs that no signed parent vouches for.\n")
	for _, k := range sorted {
		fmt.Fprintf(&b, "; %s key %d, %s\n%s\n", k.DNSKEY.Hdr.Name, k.Tag, dns.AlgorithmToString[k.DNSKEY.Algorithm], k.DS().String())
	}
	return b.String()
}
