package scenarios

import (
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// DNSSECFault is how a rule breaks the DNSSEC records of its answers in a
// signed zone, as a signer, a key rollover or a registry has broken them.
type DNSSECFault string

// The DNSSEC faults. Each has a row in dnssecFaultTable.
const (
	SigExpired           DNSSECFault = "expired"
	SigNotYetValid       DNSSECFault = "not-yet-valid"
	SigBogus             DNSSECFault = "bogus"
	SigWrongKey          DNSSECFault = "wrong-key"
	RRSIGsMissing        DNSSECFault = "rrsigs-missing"
	UnsupportedAlgorithm DNSSECFault = "unsupported-algorithm"
	DNSKEYMissing        DNSSECFault = "dnskey-missing"
	DNSKEYReplaced       DNSSECFault = "dnskey-replaced"
	DSMismatch           DNSSECFault = "ds-mismatch"
	NSECMissing          DNSSECFault = "nsec-missing"
	NSECNotCovering      DNSSECFault = "nsec-not-covering"
	NSECHidesTypes       DNSSECFault = "nsec-hides-types"
	Unsigned             DNSSECFault = "unsigned"
)

// DNSSECFaultInfo is one row of the DNSSEC fault table.
type DNSSECFaultInfo struct {
	Fault DNSSECFault
	// Does says what the fault does to an answer, for the documentation.
	Does string
	// Needs is the query type whose answers the fault changes (DNSKEY, DS),
	// or 0 when it changes any answer.
	Needs uint16
}

// dnssecFaultTable lists every DNSSEC fault, in the documentation's order.
var dnssecFaultTable = []DNSSECFaultInfo{
	{Fault: SigExpired, Does: "every RRSIG is re-signed with an expiration in the past"},
	{Fault: SigNotYetValid, Does: "every RRSIG is re-signed with an inception in the future"},
	{Fault: SigBogus, Does: "every RRSIG is a signature over other data (the same RRset with another original TTL)"},
	{Fault: SigWrongKey, Does: "every RRSIG is made by another key, one the zone's DNSKEY set lacks"},
	{Fault: RRSIGsMissing, Does: "the answer carries no RRSIG"},
	{Fault: UnsupportedAlgorithm, Does: "every RRSIG claims algorithm 253 (PRIVATEDNS), which no validator implements"},
	{Fault: DNSKEYMissing, Does: "a DNSKEY query is answered with no DNSKEY (NODATA)", Needs: dns.TypeDNSKEY},
	{Fault: DNSKEYReplaced, Does: "a DNSKEY query is answered with another key, self-signed: the DS matches none", Needs: dns.TypeDNSKEY},
	{Fault: DSMismatch, Does: "the DS at the parent matches no key of the child (validly signed by the parent)", Needs: dns.TypeDS},
	{Fault: NSECMissing, Does: "a negative answer carries no NSEC proof"},
	{Fault: NSECNotCovering, Does: "a negative answer's NSEC records (validly signed) do not cover the name"},
	{Fault: NSECHidesTypes, Does: "a NODATA answer's NSEC (validly signed) says the name has no types but NSEC and RRSIG, hiding those it has (Slack 2021)"},
	{Fault: Unsigned, Does: "the answer carries no DNSSEC records at all, and DNSKEY queries get NODATA: signing switched off"},
}

// DNSSECFaults lists every DNSSEC fault with what it does.
func DNSSECFaults() []DNSSECFaultInfo { return append([]DNSSECFaultInfo(nil), dnssecFaultTable...) }

// Info is f's row of the table; the zero row for a fault that does not
// exist.
func (f DNSSECFault) Info() DNSSECFaultInfo {
	for _, row := range dnssecFaultTable {
		if row.Fault == f {
			return row
		}
	}
	return DNSSECFaultInfo{}
}

func dnssecFaultNames() []string {
	out := make([]string, len(dnssecFaultTable))
	for i, row := range dnssecFaultTable {
		out[i] = string(row.Fault)
	}
	return out
}

// ruleDNSSEC reads a rule's dnssec: fault.
func (d *decoder) ruleDNSSEC(n *yaml.Node, r *Rule) {
	s, ok := d.scalar(n, "dnssec")
	if !ok {
		return
	}
	f := DNSSECFault(strings.ToLower(s))
	if f.Info().Fault == "" {
		hint := didYouMean(string(f), dnssecFaultNames())
		if hint == "" {
			hint = "; expected one of: " + strings.Join(dnssecFaultNames(), ", ")
		}
		d.errorf(n, "unknown dnssec fault %q%s", s, hint)
		return
	}
	d.onlyWithMessage(n, "dnssec", r.Action)
	if t := f.Info().Needs; t != 0 && len(r.Match.Types) > 0 && !containsType(r.Match.Types, t) {
		d.errorf(n, "dnssec: %s changes answers to %s queries, which this rule's types leave out: add %s to match.types", f, dns.TypeToString[t], dns.TypeToString[t])
	}
	r.DNSSEC = f
}

func containsType(types []uint16, t uint16) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// dnssecAlgorithms are the algorithms a zone may be signed with, by name.
var dnssecAlgorithms = map[string]uint8{"ECDSAP256SHA256": dns.ECDSAP256SHA256, "ED25519": dns.ED25519}

// zoneDNSSEC reads a zone's dnssec: true, or {algorithm, key}.
func (d *decoder) zoneDNSSEC(n *yaml.Node, origin string, opts Options) *ZoneDNSSEC {
	out := &ZoneDNSSEC{Algorithm: dns.ECDSAP256SHA256}
	if n.Kind == yaml.ScalarNode {
		if !d.switchedOn(n, "zone dnssec", "algorithm and key") {
			return nil
		}
		return out
	}
	f := d.fields(n, "zone dnssec", "algorithm", "key", "nsec3")
	if v := f["algorithm"]; v != nil {
		if s, ok := d.scalar(v, "dnssec algorithm"); ok {
			alg, known := dnssecAlgorithms[strings.ToUpper(s)]
			if !known {
				if num, err := strconv.Atoi(s); err == nil && (num == int(dns.ECDSAP256SHA256) || num == int(dns.ED25519)) {
					alg, known = uint8(num), true
				}
			}
			if !known {
				names := make([]string, 0, len(dnssecAlgorithms))
				for name := range dnssecAlgorithms {
					names = append(names, name)
				}
				sort.Strings(names)
				d.errorf(v, "dnssec algorithm %q is not one dnsfault signs with; expected one of: %s", s, strings.Join(names, ", "))
			}
			out.Algorithm = alg
		}
	}
	if v := f["key"]; v != nil {
		if base, ok := d.scalar(v, "dnssec key"); ok {
			d.readKey(v, base, origin, out, opts)
		}
	}
	if v := f["nsec3"]; v != nil {
		out.NSEC3 = d.nsec3(v)
	}
	return out
}

// MaxNSEC3Iterations is the most NSEC3 iterations a zone may ask for:
// what validators accept (RFC 9276 section 3.2; BIND and unbound cap at
// 150). More is a fault of its own (validators treat the zone as
// insecure), served only with nsec3's insecure: true. The default is RFC
// 9276's: 0 iterations and no salt.
const MaxNSEC3Iterations = 150

// nsec3 reads a zone's nsec3: true, or {iterations, salt}.
func (d *decoder) nsec3(n *yaml.Node) *NSEC3Params {
	p := &NSEC3Params{}
	if n.Kind == yaml.ScalarNode {
		if !d.switchedOn(n, "nsec3", "iterations and salt") {
			return nil
		}
		return p
	}
	f := d.fields(n, "nsec3", "iterations", "salt", "insecure")
	insecure := false
	if v := f["insecure"]; v != nil {
		insecure = d.boolean(v, "nsec3 insecure")
	}
	if v := f["iterations"]; v != nil {
		if it, ok := d.int(v, "nsec3 iterations", 0, 65535); ok {
			if it > MaxNSEC3Iterations && !insecure {
				d.errorf(v, "nsec3 iterations %d: validators take at most %d (BIND and unbound treat the zone as insecure past it), and each costs every denial a hash; RFC 9276 asks for 0. To test that fault on purpose, add insecure: true", it, MaxNSEC3Iterations)
			}
			p.Iterations = uint16(it)
		}
	}
	if v := f["salt"]; v != nil {
		if s, ok := d.scalar(v, "nsec3 salt"); ok {
			if _, err := hex.DecodeString(s); err != nil || len(s) > 510 {
				d.errorf(v, "nsec3 salt must be hex digits (at most 255 bytes), such as AABBCCDD, or \"\" for none; got %q", s)
			}
			p.Salt = strings.ToUpper(s)
		}
	}
	return p
}

// readKey reads the key pair that dnssec-keygen writes: base.key (the
// DNSKEY record) and base.private.
func (d *decoder) readKey(n *yaml.Node, base, origin string, out *ZoneDNSSEC, opts Options) {
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".key"), ".private")
	if opts.ReadFile == nil {
		d.errorf(n, "dnssec key %q: %s", base, noFiles(opts.NoFilesWhy))
		return
	}
	pub, err := opts.ReadFile(base + ".key")
	if err != nil {
		d.errorf(n, "dnssec key: %v", err)
		return
	}
	zp := dns.NewZoneParser(strings.NewReader(string(pub)), origin, base+".key")
	var key *dns.DNSKEY
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if k, isKey := rr.(*dns.DNSKEY); isKey && key == nil {
			key = k
		}
	}
	switch {
	case zp.Err() != nil:
		msg, line, col := zoneFileError(zp.Err())
		d.errs = append(d.errs, Error{File: base + ".key", Line: line, Column: col, Msg: msg})
		return
	case key == nil:
		d.errorf(n, "dnssec key %s.key holds no DNSKEY record", base)
		return
	case !strings.EqualFold(key.Hdr.Name, origin):
		d.errorf(n, "dnssec key %s.key is a key of %s, not of the zone %s", base, key.Hdr.Name, origin)
		return
	case key.Algorithm != out.Algorithm:
		d.errorf(n, "dnssec key %s.key is an %s key; the zone's algorithm is %s (give algorithm: %s)", base, dns.AlgorithmToString[key.Algorithm], dns.AlgorithmToString[out.Algorithm], dns.AlgorithmToString[key.Algorithm])
		return
	}
	priv, err := opts.ReadFile(base + ".private")
	if err != nil {
		d.errorf(n, "dnssec key: %v", err)
		return
	}
	pk, err := key.ReadPrivateKey(strings.NewReader(string(priv)), base+".private")
	if err != nil {
		// Never quote the private key's text back.
		d.errorf(n, "dnssec key %s.private is not a private key for %s.key", base, base)
		return
	}
	out.Key, out.PrivateKey = key, pk
}

// switchedOn reads a key given as true or false instead of a mapping
// (with fields): whether it is on, false after reporting anything else.
func (d *decoder) switchedOn(n *yaml.Node, what, fields string) bool {
	s, ok := d.scalar(n, what)
	if !ok {
		return false
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		d.errorf(n, "%s must be true, false or a mapping with %s, got %q", what, fields, s)
		return false
	}
	return on
}
