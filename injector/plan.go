package injector

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/injector/ratelimit"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/injector/zone"
	"github.com/dnsfault/dnsfault/scenarios"
)

// plan is a scenario compiled for serving. It is immutable but for its
// counters, and is swapped whole, so queries read it without a lock.
type plan struct {
	scenario *scenarios.Scenario
	seed     uint64
	phases   []*phasePlan
	source   *source
	// upstream says where names outside the zones go, with the addresses
	// in use, for the status.
	upstream string
	zones    []string // the origins served
	signed   []string // the signed zones, with their keys, for the status
}

type phasePlan struct {
	name    string
	matcher *match.Matcher
	rules   []*rulePlan
	// seen counts the questions answered while the phase was in force:
	// every rule of the phase saw them.
	seen atomic.Uint64
}

type rulePlan struct {
	spec   *scenarios.Rule
	phase  string
	fault  fault.Fault
	stream uint64 // this rule's own random stream
	draws  atomic.Uint64
	jitter atomic.Uint64
	hits   atomic.Uint64 // questions it took: the fault was injected
	// matched counts the questions whose conditions it met when its turn
	// came, taken or not (its probability); byType the taken ones by
	// their type. With the phase's seen, they prove a fault fired, or
	// say why not: no query came (a client's cache), none matched, or
	// the probability said no.
	matched atomic.Uint64
	byType  [len(countedTypes) + 1]atomic.Uint64
	// handshake marks a tls-fail rule: it acts on TLS handshakes
	// (listen_tls.go), never on queries.
	handshake bool
}

// compile builds a plan. cfg.Upstream, when set, overrides the scenario's
// upstream; with neither, the system's resolvers are used. Forwarded UDP
// queries go through mux, which outlives the plan.
func compile(sc *scenarios.Scenario, cfg *Config, limiter *ratelimit.Limiter, m *metrics, mux *upstream.Mux, keys *keyring) (*plan, error) {
	spec := sc.Upstream
	if len(cfg.Upstream) > 0 {
		spec = cfg.Upstream
	}
	if len(spec) == 0 {
		spec = []string{"system"}
	}
	fwd, err := upstream.New(spec, cfg.UpstreamTimeout, cfg.ResolvConf, mux)
	if err != nil {
		return nil, err
	}
	seed := sc.Seed
	if !sc.HasSeed {
		seed = rand.Int64() // reported by Server.Seed, so the run can be replayed
	}
	zones := scenarios.MergeZones(sc.Zones, cfg.Zones)
	sign, err := keys.signing(zones, time.Now())
	if err != nil {
		return nil, err
	}
	if cfg.DNSSECAnchors != "" && sign != nil {
		if err := writeAnchors(cfg.DNSSECAnchors, sign); err != nil {
			return nil, fmt.Errorf("--dnssec-anchors: %w", err)
		}
	}
	p := &plan{
		scenario: sc,
		seed:     uint64(seed),
		source:   &source{zones: zone.NewSet(zones, sign), fwd: fwd, limiter: limiter, metrics: m, recurses: spec[0] != "none", soas: newUpstreamSOAs(fwd, cfg.Now), tap: cfg.Dnstap},
		upstream: describeUpstream(spec, fwd, cfg.ResolvConf),
	}
	for _, z := range zones {
		p.zones = append(p.zones, z.Origin)
		if sign != nil && sign.Keys[z.Origin] != nil {
			k := sign.Keys[z.Origin]
			p.signed = append(p.signed, fmt.Sprintf("%s key %d %s", z.Origin, k.Tag, dns.AlgorithmToString[k.DNSKEY.Algorithm]))
		}
	}
	for pi := range sc.Phases {
		ph := &sc.Phases[pi]
		pp := &phasePlan{name: ph.Name, matcher: match.New(ph.Rules)}
		for ri := range ph.Rules {
			r := &ph.Rules[ri]
			f := fault.For(r)
			if f == nil {
				return nil, fmt.Errorf("rule %q: action %q has no fault", r.Name, r.Action)
			}
			pp.rules = append(pp.rules, &rulePlan{spec: r, phase: ph.Name, fault: f, stream: uint64(pi)<<32 | uint64(ri), handshake: r.Action == scenarios.TLSFail})
		}
		p.phases = append(p.phases, pp)
	}
	return p, nil
}

// describeUpstream says where names outside the zones are forwarded.
func describeUpstream(spec []string, fwd upstream.Forwarder, resolvConf string) string {
	addrs := strings.Join(upstream.AddrsOf(fwd), ", ")
	switch spec[0] {
	case "none":
		return "none (names outside the zones get REFUSED)"
	case "system":
		return fmt.Sprintf("system: %s (from %s)", addrs, resolvConf)
	}
	return addrs
}

// takes decides, from the rule's own seeded stream, whether it takes this
// query: the n-th query a rule sees gets the same decision on every run
// with the same seed.
func (r *rulePlan) takes(seed uint64, probability float64) bool {
	if probability >= 1 {
		return true
	}
	if probability <= 0 {
		return false
	}
	return unit(seed, r.stream, r.draws.Add(1)) < probability
}

// delay returns the rule's delay with its jitter drawn uniformly from
// [-jitter, +jitter], never below zero.
func (r *rulePlan) delay(seed uint64) time.Duration {
	d := r.spec.Delay
	if j := r.spec.Jitter; j > 0 {
		u := unit(seed, r.stream|1<<63, r.jitter.Add(1))
		d += time.Duration((2*u - 1) * float64(j))
	}
	return max(d, 0)
}

// unit returns a number in [0, 1) determined by seed, stream and n alone
// (SplitMix64 finalisers), so decisions need no shared, locked generator.
func unit(seed, stream, n uint64) float64 {
	x := mix(seed ^ mix(stream^mix(n)))
	return float64(x>>11) / (1 << 53)
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// countedTypes are the query types injections are counted by; the rest
// count as "other".
var countedTypes = [...]uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeMX, dns.TypeTXT,
	dns.TypeNS, dns.TypeSOA, dns.TypeSRV, dns.TypePTR, dns.TypeDS, dns.TypeDNSKEY, dns.TypeANY}

// took counts a question of type qtype the rule took.
func (r *rulePlan) took(qtype uint16) {
	r.hits.Add(1)
	for i, t := range countedTypes {
		if t == qtype {
			r.byType[i].Add(1)
			return
		}
	}
	r.byType[len(countedTypes)].Add(1)
}

// injectedByType is what took counted, by type name; nil when nothing.
func (r *rulePlan) injectedByType() map[string]uint64 {
	var out map[string]uint64
	for i := range r.byType {
		n := r.byType[i].Load()
		if n == 0 {
			continue
		}
		if out == nil {
			out = map[string]uint64{}
		}
		name := "other"
		if i < len(countedTypes) {
			name = dns.TypeToString[countedTypes[i]]
		}
		out[name] = n
	}
	return out
}

// status is the rule's counters, seen being the questions answered while
// it was in force.
func (r *rulePlan) status(seen uint64) control.RuleStatus {
	return control.RuleStatus{Name: r.spec.Name, Action: string(r.spec.Action), Seen: seen, Matched: r.matched.Load(),
		Hits: r.hits.Load(), InjectedByType: r.injectedByType()}
}
