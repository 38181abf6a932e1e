package dnssec

import (
	"strings"

	"github.com/miekg/dns"
)

// CanonicalKey returns a string whose byte order is the canonical DNS
// name order of RFC 4034 section 6.1: labels compared from the right,
// lower-cased, byte by byte, a shorter label first. Each label is written
// right to left as its bytes plus one, two bytes each, then a 0x0000
// separator that sorts before any byte.
func CanonicalKey(name string) string {
	var wire [256]byte
	n, err := dns.PackDomainName(strings.ToLower(dns.Fqdn(name)), wire[:], 0, nil, false)
	if err != nil {
		return ""
	}
	var labels [][]byte
	for off := 0; off < n && wire[off] != 0; off += int(wire[off]) + 1 {
		labels = append(labels, wire[off+1:off+1+int(wire[off])])
	}
	var b strings.Builder
	b.Grow(2 * n)
	for i := len(labels) - 1; i >= 0; i-- {
		for _, c := range labels[i] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			v := uint16(c) + 1
			b.WriteByte(byte(v >> 8))
			b.WriteByte(byte(v))
		}
		b.WriteString("\x00\x00")
	}
	return b.String()
}

// Less tells whether name a comes before name b in canonical order.
func Less(a, b string) bool { return CanonicalKey(a) < CanonicalKey(b) }

// After returns a name that comes after name and every name below it in
// canonical order, and before any other: name's first label with a zero
// byte appended (RFC 4471's successor, for a name that is not
// expanded). It returns name itself when the label is full.
func After(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end || wireLen(name) >= 255 {
		return name
	}
	first := name[:off-1] // without its dot
	if labelLen(first) >= 63 {
		return name
	}
	return first + `\000.` + name[off:]
}

// labelLen is the length in bytes of a label in presentation form.
func labelLen(label string) int {
	n := 0
	for i := 0; i < len(label); i++ {
		if label[i] == '\\' {
			if i+3 < len(label) && '0' <= label[i+1] && label[i+1] <= '9' {
				i += 3
			} else {
				i++
			}
		}
		n++
	}
	return n
}

// Before returns a name that comes before name in canonical order and
// after every name that comes before it and is not below it: name's first
// label with its last byte lowered by one and filled to 63 bytes with
// \255 (RFC 4471 section 3.1.3, simplified). It returns name's parent
// when the first label cannot be lowered.
func Before(name string) string {
	var wire [256]byte
	n, err := dns.PackDomainName(strings.ToLower(name), wire[:], 0, nil, false)
	if err != nil || wire[0] == 0 {
		return name
	}
	first := append([]byte(nil), wire[1:1+int(wire[0])]...)
	rest := name[len(name)-restLen(name):]
	last := first[len(first)-1]
	if last == 0 {
		first = first[:len(first)-1]
	} else {
		last--
		if 'A' <= last && last <= 'Z' {
			last = 'A' - 1 // upper case would sort as lower case, after name
		}
		first[len(first)-1] = last
		for len(first) < 63 && n+len(first)-int(wire[0]) < 255 {
			first = append(first, 0xff)
		}
	}
	if len(first) == 0 {
		return rest
	}
	var b strings.Builder
	for _, c := range first {
		switch {
		case c == '.' || c == '\\' || c < '!' || c > '~' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
			b.WriteString(escapeByte(c))
		default:
			b.WriteByte(c)
		}
	}
	if rest == "." {
		return b.String() + "."
	}
	return b.String() + "." + rest
}

// restLen is the length of name after its first label (the parent's
// presentation form).
func restLen(name string) int {
	off, end := dns.NextLabel(name, 0)
	if end {
		return 1 // "."
	}
	return len(name) - off
}

func escapeByte(c byte) string {
	const digits = "0123456789"
	return string([]byte{'\\', digits[c/100], digits[c/10%10], digits[c%10]})
}

func wireLen(name string) int {
	var wire [512]byte
	n, err := dns.PackDomainName(name, wire[:], 0, nil, false)
	if err != nil {
		return 512
	}
	return n
}
