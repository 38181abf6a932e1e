package scenarios

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// inlineTTL is the TTL of inline records that do not give one: short, so
// tests that change answers are not fooled by caches for long.
const inlineTTL = 60

// parseZone reads one entry of `zones`.
func (d *decoder) parseZone(n *yaml.Node, opts Options) (Zone, bool) {
	f := d.fields(n, "zone", "origin", "records", "file", "dnssec")
	on := f["origin"]
	if on == nil {
		d.errorf(n, "zone: missing origin (the zone's apex, such as test.internal.)")
		return Zone{}, false
	}
	origin, ok := d.domainName(on, "zone origin")
	if !ok {
		return Zone{}, false
	}
	z := Zone{Origin: origin}
	errsBefore := len(d.errs)
	if rn := f["records"]; rn != nil {
		for _, item := range d.list(rn, "zone records") {
			for _, rr := range d.record(item, origin, inlineTTL) {
				if !dns.IsSubDomain(origin, rr.Header().Name) {
					d.errorf(item, "record %q: %s is outside the zone %s", item.Value, rr.Header().Name, origin)
					continue
				}
				z.Records = append(z.Records, rr)
			}
		}
	}
	if fn := f["file"]; fn != nil {
		if name, ok := d.scalar(fn, "zone file"); ok {
			for _, rr := range d.zoneFile(fn, name, origin, opts) {
				if !dns.IsSubDomain(origin, rr.Header().Name) {
					d.errorf(fn, "zone file %s: record %s %s is outside the zone %s", name, rr.Header().Name, dns.TypeToString[rr.Header().Rrtype], origin)
					continue
				}
				z.Records = append(z.Records, rr)
			}
		}
	}
	for _, rr := range z.Records {
		if err := fitsAMessage(rr); err != nil {
			d.errorf(n, "zone %s: %v", origin, err)
		}
	}
	if sn := f["dnssec"]; sn != nil {
		z.DNSSEC = d.zoneDNSSEC(sn, origin, opts)
	}
	return z, len(d.errs) == errsBefore
}

// checkZoneOrigins refuses two zones with the same origin: which one
// answers would be a guess.
func (d *decoder) checkZoneOrigins(n *yaml.Node, zones []Zone) {
	seen := map[string]bool{}
	for _, z := range zones {
		if seen[z.Origin] {
			d.errorf(n, "zone %s is given twice: merge its records into one entry", z.Origin)
		}
		seen[z.Origin] = true
	}
}

// zoneFile parses an RFC 1035 zone file; its errors are positioned in the
// zone file itself.
func (d *decoder) zoneFile(n *yaml.Node, name, origin string, opts Options) []dns.RR {
	readFile := opts.ReadFile
	if readFile == nil {
		d.errorf(n, "zone file %q: %s", name, noFiles(opts.NoFilesWhy))
		return nil
	}
	data, err := readFile(name)
	if err != nil {
		d.errorf(n, "zone file: %v", err)
		return nil
	}
	zp := dns.NewZoneParser(strings.NewReader(string(data)), origin, name)
	zp.SetIncludeAllowed(false)
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		// The file may be no zone file at all (file: pointed at a
		// secret), and an error message is no way to read a file: the
		// position and the kind of mistake only.
		msg, line, col := zoneFileError(err)
		d.errs = append(d.errs, Error{File: name, Line: line, Column: col, Msg: msg})
		return nil
	}
	return out
}

// record parses one record line of the scenario, positioning errors on it.
func (d *decoder) record(n *yaml.Node, origin string, defaultTTL uint32) []dns.RR {
	text, ok := d.scalar(n, "record")
	if !ok {
		return nil
	}
	// Directives belong in zone files: $GENERATE alone could turn one line
	// into 65,536 records.
	if strings.HasPrefix(strings.TrimSpace(text), "$") {
		d.errorf(n, "record %q: directives ($ORIGIN, $TTL, $GENERATE, $INCLUDE) belong in zone files, not in a record line", text)
		return nil
	}
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	zp.SetDefaultTTL(defaultTTL)
	zp.SetIncludeAllowed(false)
	var out []dns.RR
	for rr, ok := zp.Next(); ok && len(out) < 2; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		msg, _, col := splitParseError(err)
		e := Error{File: d.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf("record %q: %s", excerpt(text), msg)}
		if n.Style == 0 && col > 0 && !strings.Contains(text, "\n") {
			e.Column += col - 1 // point at the token when the scalar is plain
		}
		d.errs = append(d.errs, e)
		return nil
	}
	if len(out) != 1 {
		d.errorf(n, "record %q: expected exactly one record, found %d", text, len(out))
		return nil
	}
	return out
}

// ruleRecords parses the records of an answer rule. "@" stands for the
// queried name; every other name must be fully qualified.
func (d *decoder) ruleRecords(n *yaml.Node) []dns.RR {
	var out []dns.RR
	for _, item := range d.list(n, "records") {
		for _, rr := range d.record(item, QueryName, inlineTTL) {
			if strings.Contains(rr.String(), "."+QueryName) {
				d.errorf(item, "record %q: write names fully qualified (ending in a dot), or @ for the queried name", item.Value)
				continue
			}
			if err := fitsAMessage(rr); err != nil {
				d.errorf(item, "%v", err)
				continue
			}
			out = append(out, rr)
		}
	}
	return out
}

// maxRecordWire is the largest record that fits a DNS message (65,535
// bytes) beside its header and the longest question.
const maxRecordWire = dns.MaxMsgSize - 12 - (255 + 4)

// fitsAMessage refuses a record no DNS message can carry: served, it
// would be an answer that can never be sent.
func fitsAMessage(rr dns.RR) error {
	if n := dns.Len(rr); n > maxRecordWire {
		return fmt.Errorf("record %s %s is %d bytes on the wire: a DNS message holds at most 65,535 bytes, header and question included", rr.Header().Name, dns.TypeToString[rr.Header().Rrtype], n)
	}
	return nil
}

// domainName reads a domain name and returns it fully qualified, lower case.
func (d *decoder) domainName(n *yaml.Node, what string) (string, bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return "", false
	}
	name := strings.ToLower(dns.Fqdn(s))
	if _, valid := dns.IsDomainName(name); !valid || strings.Contains(name, "..") {
		d.errorf(n, "%s: %q is not a valid domain name", what, s)
		return "", false
	}
	return name, true
}

// parseErrorPos matches the tail of miekg/dns ParseError messages.
var parseErrorPos = regexp.MustCompile(`^(?:.*?: )?dns: (.*) at line: (\d+):(\d+)$`)

// splitParseError turns a miekg/dns parse error into a message and the
// line and column it names.
// quotedToken is the text a zone parser's error quotes.
var quotedToken = regexp.MustCompile(`:? *"[^"]*"`)

func splitParseError(err error) (msg string, line, col int) {
	return parseError(err, true)
}

// zoneFileError is splitParseError for a file's text: it says where and
// what kind of mistake, and quotes nothing of the file.
func zoneFileError(err error) (msg string, line, col int) {
	return parseError(err, false)
}

func parseError(err error, quote bool) (msg string, line, col int) {
	var pe *dns.ParseError
	if !errors.As(err, &pe) {
		return unquoted(err.Error(), quote), 0, 0
	}
	m := parseErrorPos.FindStringSubmatch(pe.Error())
	if m == nil {
		return unquoted(pe.Error(), quote), 0, 0
	}
	line, _ = strconv.Atoi(m[2])
	col, _ = strconv.Atoi(m[3])
	return plainParseError(m[1], quote), line, col
}

// unquoted is msg, without what it quotes unless quote.
func unquoted(msg string, quote bool) string {
	if quote {
		return msg
	}
	return strings.TrimSpace(quotedToken.ReplaceAllString(msg, ""))
}

// badField matches miekg/dns's terse "bad A A: \"999.1.1.1\"".
var badField = regexp.MustCompile(`^bad (\S+) (\S+): (".*")$`)

// unknownType matches its message for a type it does not know.
var unknownType = regexp.MustCompile(`^unknown RR type: "(.*)"$`)

// plainParseError rewrites the zone parser's terse messages in words,
// with a suggestion for a misspelt type.
func plainParseError(msg string, quote bool) string {
	if m := badField.FindStringSubmatch(msg); m != nil {
		value := "the value"
		if quote {
			value = excerpt(m[3])
		}
		switch m[1] {
		case "A":
			return fmt.Sprintf("%s is not an IPv4 address (such as 192.0.2.1)", value)
		case "AAAA":
			return fmt.Sprintf("%s is not an IPv6 address (such as 2001:db8::1)", value)
		}
		return fmt.Sprintf("%s record: %s is not a valid %s", m[1], value, strings.ToLower(m[2]))
	}
	if m := unknownType.FindStringSubmatch(msg); m != nil {
		if !quote {
			return "unknown record type (types are written as in RFC 1035 zone files: A, AAAA, CNAME, MX, TXT, ...)"
		}
		hint := didYouMean(strings.ToUpper(m[1]), knownTypes)
		if hint == "" {
			hint = " (types are written as in RFC 1035 zone files: A, AAAA, CNAME, MX, TXT, ...)"
		}
		return fmt.Sprintf("unknown record type %q%s", excerpt(m[1]), hint)
	}
	return unquoted(msg, quote)
}

// knownTypes are the record types a zone file may name.
var knownTypes = func() []string {
	var out []string
	for name := range dns.StringToType {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}()
