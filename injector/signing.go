package injector

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/dnssec"
	"github.com/dnsfault/dnsfault/injector/safefile"
	"github.com/dnsfault/dnsfault/injector/zone"
	"github.com/dnsfault/dnsfault/scenarios"
)

// keyring holds the keys the server generated for signed zones, by origin
// and algorithm, for the server's life: a reload or a new scenario signs
// with the same key, so the trust anchors a validator was given stay good.
type keyring struct {
	mu   sync.Mutex
	keys map[string]*dnssec.Key
}

// signing returns the keys of the signed zones among zones: read from
// files, or generated once; nil when no zone is signed.
func (kr *keyring) signing(zones []scenarios.Zone, now time.Time) (*zone.Signing, error) {
	var sign *zone.Signing
	for _, z := range zones {
		if z.DNSSEC == nil {
			continue
		}
		if sign == nil {
			sign = &zone.Signing{Keys: map[string]*dnssec.Key{}, Window: dnssec.ValidAround(now)}
		}
		key, err := kr.key(z)
		if err != nil {
			return nil, err
		}
		sign.Keys[z.Origin] = key
		if z.DNSSEC.NSEC3 != nil {
			if sign.NSEC3 == nil {
				sign.NSEC3 = map[string]*scenarios.NSEC3Params{}
			}
			sign.NSEC3[z.Origin] = z.DNSSEC.NSEC3
		}
	}
	return sign, nil
}

func (kr *keyring) key(z scenarios.Zone) (*dnssec.Key, error) {
	if z.DNSSEC.Key != nil {
		return dnssec.NewKey(z.DNSSEC.Key, z.DNSSEC.PrivateKey)
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	id := fmt.Sprintf("%s/%d", z.Origin, z.DNSSEC.Algorithm)
	if k := kr.keys[id]; k != nil {
		return k, nil
	}
	k, err := dnssec.GenerateKey(z.Origin, z.DNSSEC.Algorithm)
	if err != nil {
		return nil, err
	}
	if kr.keys == nil {
		kr.keys = map[string]*dnssec.Key{}
	}
	kr.keys[id] = k
	return k, nil
}

// anchorKeys returns the keys of the signed zones that no signed zone
// above them vouches for: the trust anchors a validator needs.
func anchorKeys(sign *zone.Signing) []*dnssec.Key {
	if sign == nil {
		return nil
	}
	var out []*dnssec.Key
	for origin, key := range sign.Keys {
		vouched := false
		for above := dnssec.Parent(origin); above != "" && !vouched; above = dnssec.Parent(above) {
			vouched = sign.Keys[above] != nil
		}
		if !vouched {
			out = append(out, key)
		}
	}
	return out
}

// writeAnchors writes the trust anchors of sign to path (cfg's
// --dnssec-anchors): a BIND trust-anchors statement when path ends in
// .conf, zone-file DS lines otherwise.
func writeAnchors(path string, sign *zone.Signing) error {
	format := "zone"
	if strings.HasSuffix(path, ".conf") {
		format = "bind"
	}
	text := dnssec.Anchors(anchorKeys(sign), format)
	return safefile.Write(path, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
}

// signFault makes the answer m that rule spec gave to a query with the DO
// bit, about name in a signed zone, what the zone's signer would have
// sent (dnssec.Complete: the answer of any action but pass, or one that
// keep trimmed or ttl rewrote, is signed as it is), then breaks it as the
// rule's dnssec fault says. It says whether the fault broke the answer.
func signFault(q *query, m *dns.Msg, spec *scenarios.Rule, name string) bool {
	zones := q.src.zones
	if !q.req.DO || m.Truncated || !zones.Signed(name) {
		return false // a truncated answer holds nothing to sign: the client asks again over TCP
	}
	now := time.Now() // the validator's clock, whatever the timeline's
	if spec.Action != scenarios.Pass || spec.Keep > 0 || spec.TTL != nil {
		if spec.Keep > 0 || spec.TTL != nil {
			m.Answer = dnssec.Without(m.Answer, dns.TypeRRSIG) // signed again, over what is kept
		}
		if spec.TTL != nil {
			// ttl rewrote the SOA's MINIMUM, which its RRSIG covers, and
			// TTLs above the original ones a validator would cap.
			m.Ns = dnssec.Without(m.Ns, dns.TypeRRSIG)
		}
		dnssec.Complete(m, name, q.req.Type, zones, dnssec.ValidAround(now))
	}
	if spec.DNSSEC == "" {
		return false
	}
	dnssec.Break(m, spec.DNSSEC, name, q.req.Type, zones, now)
	return true
}
