package dnssec

import (
	"crypto"
	"fmt"

	"github.com/miekg/dns"
)

// Key is one zone's signing key: a combined signing key (flags 257, the
// SEP bit set) that signs every RRset of the zone, DNSKEY included.
type Key struct {
	DNSKEY *dns.DNSKEY
	Signer crypto.Signer
	Tag    uint16
}

// GenerateKey makes a new key for origin.
func GenerateKey(origin string, algorithm uint8) (*Key, error) {
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.Fqdn(origin), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     dns.ZONE | dns.SEP,
		Protocol:  3,
		Algorithm: algorithm,
	}
	priv, err := k.Generate(256) // P-256 and Ed25519 both take 256

	if err != nil {
		return nil, fmt.Errorf("generating a %s key for %s: %w", dns.AlgorithmToString[algorithm], origin, err)
	}
	return NewKey(k, priv)
}

// NewKey pairs a DNSKEY with its private key, as read from files.
func NewKey(k *dns.DNSKEY, priv crypto.PrivateKey) (*Key, error) {
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("the private key of %s cannot sign", k.Hdr.Name)
	}
	return &Key{DNSKEY: k, Signer: signer, Tag: k.KeyTag()}, nil
}

// DS is the SHA-256 DS record of the key, for the parent or a trust
// anchor.
func (k *Key) DS() *dns.DS {
	ds := k.DNSKEY.ToDS(dns.SHA256)
	ds.Hdr.Ttl = k.DNSKEY.Hdr.Ttl
	return ds
}
