package scenarios

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

var (
	phaseKeys = []string{"name", "duration", "rules", "fixed"}
	ruleKeys  = []string{"name", "match", "action", "records", "delay", "jitter", "ttl", "probability", "keep", "ede", "via_cname", "status", "retry_after", "tls", "dnssec"}
	matchKeys = []string{"names", "types", "clients", "transport"}
)

// parsePhases reads `phases`, or turns top-level `rules` into one endless
// phase named "default".
func (d *decoder) parsePhases(root, phasesNode, rulesNode *yaml.Node) []Phase {
	switch {
	case phasesNode != nil && rulesNode != nil:
		d.errorf(rulesNode, "give either top-level rules (one endless phase) or phases, not both")
		// Both are read on, so that one pass reports every mistake.
		d.parseRules(rulesNode, "default")
	case phasesNode == nil:
		p := Phase{Name: "default"}
		if rulesNode != nil {
			p.Rules = d.parseRules(rulesNode, p.Name)
		}
		return []Phase{p}
	}
	var phases []Phase
	items := d.list(phasesNode, "phases")
	if phasesNode.Kind == yaml.SequenceNode && len(items) == 0 {
		d.errorf(phasesNode, "phases: the list is empty; give at least one phase, or use top-level rules")
	}
	seen := map[string]bool{}
	var fixedAt *struct{ index, line int }
	for i, pn := range items {
		f := d.fields(pn, "phase", phaseKeys...)
		p := Phase{Name: fmt.Sprintf("phase-%d", i+1)}
		if n := f["name"]; n != nil {
			p.Name = d.str(n, "phase name")
			if seen[p.Name] {
				d.errorf(n, "phase name %q is used twice", p.Name)
			}
			seen[p.Name] = true
		}
		if n := f["duration"]; n != nil {
			if v, ok := d.duration(n, "phase duration"); ok {
				if v == 0 {
					d.errorf(n, "phase duration must be above zero; leave it out for a phase that lasts until the end")
				}
				p.Duration = v
			}
		} else if i < len(items)-1 {
			d.errorf(pn, "phase %q has no duration, so it never ends and the phases after it never start", p.Name)
		}
		if n := f["rules"]; n != nil {
			p.Rules = d.parseRules(n, p.Name)
		}
		if n := f["fixed"]; n != nil {
			if p.Fixed = d.boolean(n, "fixed"); p.Fixed && fixedAt != nil {
				d.errorf(n, "phase %q is marked fixed, but the cause was fixed already at phase %q (line %d): mark one phase", p.Name, phases[fixedAt.index].Name, fixedAt.line)
			} else if p.Fixed {
				if i == 0 {
					d.errorf(n, "phase %q is the first: the cause can be fixed only after an outage phase", p.Name)
				}
				fixedAt = &struct{ index, line int }{i, n.Line}
			}
		}
		phases = append(phases, p)
	}
	return phases
}

func (d *decoder) parseRules(n *yaml.Node, phase string) []Rule {
	var rules []Rule
	seen := map[string]bool{}
	for i, rn := range d.list(n, "rules") {
		r := d.parseRule(rn, fmt.Sprintf("%s#%d", phase, i+1))
		if seen[r.Name] {
			d.errorf(rn, "rule name %q is used twice in phase %q", r.Name, phase)
		}
		seen[r.Name] = true
		rules = append(rules, r)
	}
	return rules
}

func (d *decoder) parseRule(n *yaml.Node, defaultName string) Rule {
	r := Rule{Name: defaultName, Probability: Always, Line: n.Line, Column: n.Column}
	f := d.fields(n, "rule", ruleKeys...)
	if v := f["name"]; v != nil {
		r.Name = d.str(v, "rule name")
	}
	if v := f["match"]; v != nil {
		r.Match = d.parseMatch(v)
	}
	if v := f["action"]; v == nil {
		if n.Kind == yaml.MappingNode {
			d.errorf(n, "rule %q: missing action; expected one of: %s", r.Name, actionList())
		}
	} else if s, ok := d.scalar(v, "action"); ok {
		r.Action = Action(strings.ToLower(s))
		if !contains(actionNames(), string(r.Action)) {
			hint := didYouMean(string(r.Action), actionNames())
			if hint == "" {
				hint = "; expected one of: " + actionList()
			}
			d.errorf(v, "unknown action %q%s", s, hint)
		}
	}
	if v := f["records"]; v != nil {
		if r.Action != "" && !r.Action.Info().TakesRecords {
			d.errorf(v, "records are only used by action answer, not %s", r.Action)
		}
		r.Records = d.ruleRecords(v)
	} else if r.Action.Info().TakesRecords {
		d.errorf(n, "rule %q: action answer needs records, such as records: [\"@ 60 IN A 192.0.2.1\"]", r.Name)
	}
	if v := f["delay"]; v != nil {
		r.Delay, _ = d.duration(v, "delay")
	}
	if v := f["jitter"]; v != nil {
		r.Jitter, _ = d.duration(v, "jitter")
	}
	if v := f["ttl"]; v != nil {
		if ttl, ok := d.ttl(v); ok {
			r.TTL = &ttl
		}
		d.onlyWithMessage(v, "ttl", r.Action)
	}
	if v := f["probability"]; v != nil {
		r.Probability = d.probability(v)
	}
	if v := f["keep"]; v != nil {
		if k, ok := d.int(v, "keep", 1, 1<<16); ok {
			r.Keep = int(k)
		}
		if r.Action != "" && !r.Action.Info().TakesKeep {
			d.errorf(v, "keep only trims answers of action pass or answer, not %s", r.Action)
		}
	}
	if v := f["ede"]; v != nil {
		r.EDE = d.ede(v)
		d.onlyWithMessage(v, "ede", r.Action)
	}
	if v := f["status"]; v != nil {
		if s, ok := d.int(v, "status", 400, 599); ok {
			r.HTTPStatus = int(s)
		}
	}
	if v := f["retry_after"]; v != nil {
		r.RetryAfter, _ = d.duration(v, "retry_after")
	}
	if r.Action == HTTPStatus {
		if f["status"] == nil {
			d.errorf(n, "rule %q: action http-status needs status, an HTTP error status such as 503", r.Name)
		}
		if !r.Match.Transport.Only(DoH) {
			d.errorf(n, "rule %q: action http-status answers DoH queries only: give match: {transport: doh}", r.Name)
		}
	} else {
		for _, key := range []string{"status", "retry_after"} {
			if v := f[key]; v != nil {
				d.errorf(v, "%s is only used by action http-status, not %s", key, r.Action)
			}
		}
	}
	d.checkTLSFail(n, f, &r)
	if v := f["dnssec"]; v != nil {
		d.ruleDNSSEC(v, &r)
	}
	if v := f["via_cname"]; v != nil {
		r.NotViaCNAME = !d.boolean(v, "via_cname")
	}
	return r
}

func (d *decoder) onlyWithMessage(n *yaml.Node, key string, a Action) {
	if a != "" && a.Info().Sends != SendsMessage {
		d.errorf(n, "%s has no effect with action %s, which sends no DNS message", key, a)
	}
}

func (d *decoder) parseMatch(n *yaml.Node) Match {
	var m Match
	f := d.fields(n, "match", matchKeys...)
	if v := f["names"]; v != nil {
		for _, item := range d.list(v, "match names") {
			if p, ok := d.namePattern(item); ok {
				m.Names = append(m.Names, p)
			}
		}
	}
	if v := f["types"]; v != nil {
		for _, item := range d.list(v, "match types") {
			s, ok := d.scalar(item, "type")
			if !ok {
				continue
			}
			t, known := dns.StringToType[strings.ToUpper(s)]
			if !known {
				d.errorf(item, "unknown record type %q%s", s, didYouMean(strings.ToUpper(s), commonTypes))
				continue
			}
			m.Types = append(m.Types, t)
		}
	}
	if v := f["clients"]; v != nil {
		for _, item := range d.list(v, "match clients") {
			s, ok := d.scalar(item, "client")
			if !ok {
				continue
			}
			p, err := ParsePrefix(s)
			if err != nil {
				d.errorf(item, "client %q is not an address or CIDR such as 10.0.0.0/8 or ::1/128", s)
				continue
			}
			m.Clients = append(m.Clients, p)
		}
	}
	if v := f["transport"]; v != nil {
		for _, item := range d.list(v, "transport") {
			if s, ok := d.scalar(item, "transport"); ok {
				t, err := ParseTransport(s)
				if err != nil {
					d.errorf(item, "%v", err)
				}
				m.Transport |= TransportSet(t)
			}
		}
	}
	return m
}

// namePattern reads an exact name, "*.suffix", or "~regexp".
func (d *decoder) namePattern(n *yaml.Node) (NamePattern, bool) {
	s, ok := d.scalar(n, "name")
	if !ok {
		return NamePattern{}, false
	}
	text := s
	if expr, isRegexp := strings.CutPrefix(s, "~"); isRegexp {
		re, err := regexp.Compile("(?i)" + expr)
		if err != nil {
			d.errorf(n, "name regexp %q: %v", expr, err)
			return NamePattern{}, false
		}
		return NamePattern{Kind: Regexp, Regexp: re, Text: s}, true
	}
	kind := Exact
	if suffix, isWildcard := strings.CutPrefix(s, "*."); isWildcard {
		kind, s = Wildcard, suffix
	}
	if strings.Contains(s, "*") {
		return d.labelPattern(n, s, kind == Wildcard, text)
	}
	name := strings.ToLower(dns.Fqdn(s))
	if _, valid := dns.IsDomainName(name); !valid || strings.Contains(name, "..") {
		d.errorf(n, "name %q is not a valid domain name", n.Value)
		return NamePattern{}, false
	}
	return NamePattern{Kind: kind, Name: name, Text: text}, true
}

// labelPattern reads a name with * standing for one whole label past
// the first (dynamodb.*.amazonaws.com: any region), as a glob reads; below
// says it began with "*." (any names below, as a Wildcard).
func (d *decoder) labelPattern(n *yaml.Node, s string, below bool, text string) (NamePattern, bool) {
	var expr strings.Builder
	expr.WriteString("(?i)^")
	if below {
		expr.WriteString(`(?:[^.]+\.)+`)
	}
	for i, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if i > 0 {
			expr.WriteString(`\.`)
		}
		switch {
		case label == "*":
			expr.WriteString(`[^.]+`)
		case strings.Contains(label, "*") || label == "":
			d.errorf(n, "name %q: * stands for one whole label (dynamodb.*.amazonaws.com); use ~regexp for other patterns", n.Value)
			return NamePattern{}, false
		default:
			expr.WriteString(regexp.QuoteMeta(strings.ToLower(label)))
		}
	}
	expr.WriteString(`\.?$`) // names are matched with or without the root's dot
	return NamePattern{Kind: Regexp, Regexp: regexp.MustCompile(expr.String()), Text: text}, true
}

// ttl reads seconds ("300") or a duration ("5m").
func (d *decoder) ttl(n *yaml.Node) (uint32, bool) {
	s, ok := d.scalar(n, "ttl")
	if !ok {
		return 0, false
	}
	if dur, err := time.ParseDuration(s); err == nil && dur >= 0 && dur <= (1<<31-1)*time.Second {
		return uint32(dur / time.Second), true
	}
	v, ok := d.int(n, "ttl (seconds, or a duration such as 5m)", 0, 1<<31-1)
	return uint32(v), ok
}

// probability reads a share (0.3) or a ramp ({from: 1.0, to: 0.0}).
func (d *decoder) probability(n *yaml.Node) Probability {
	if n.Kind != yaml.MappingNode {
		v, _ := d.float(n, "probability", 0, 1)
		return Probability{From: v, To: v}
	}
	f := d.fields(n, "probability ramp", "from", "to")
	var p Probability
	for _, end := range []struct {
		key string
		dst *float64
	}{{"from", &p.From}, {"to", &p.To}} {
		key, dst := end.key, end.dst
		if v := f[key]; v == nil {
			d.errorf(n, "probability ramp: missing %s", key)
		} else {
			*dst, _ = d.float(v, "probability "+key, 0, 1)
		}
	}
	return p
}

// ede reads an info code (22) or {code: 22, text: "..."}.
func (d *decoder) ede(n *yaml.Node) *EDE {
	if n.Kind != yaml.MappingNode {
		v, ok := d.int(n, "ede code", 0, 65535)
		if !ok {
			return nil
		}
		return &EDE{Code: uint16(v)}
	}
	f := d.fields(n, "ede", "code", "text")
	e := &EDE{}
	if v := f["code"]; v == nil {
		d.errorf(n, "ede: missing code (RFC 8914 info code, such as 22 for No Reachable Authority)")
	} else if c, ok := d.int(v, "ede code", 0, 65535); ok {
		e.Code = uint16(c)
	}
	if v := f["text"]; v != nil {
		e.Text = d.str(v, "ede text")
	}
	return e
}

// ParsePrefix reads a CIDR, or a bare address meaning just that address.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var commonTypes = []string{"A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "CAA", "HTTPS", "SVCB", "DS", "DNSKEY", "ANY"}

func actionList() string { return strings.Join(actionNames(), ", ") }

// checkTLSFail reads a tls-fail rule's mode. It acts at the TLS handshake,
// before any query: it matches by client and by the transports that have
// one (dot, doh), not by name or type.
func (d *decoder) checkTLSFail(n *yaml.Node, f map[string]*yaml.Node, r *Rule) {
	v := f["tls"]
	if r.Action != TLSFail {
		if v != nil {
			d.errorf(v, "tls is only used by action tls-fail, not %s", r.Action)
		}
		return
	}
	r.TLSMode = TLSClose
	if v != nil {
		if s, ok := d.scalar(v, "tls"); ok {
			if s != TLSClose && s != TLSWrongName && s != TLSSlow {
				d.errorf(v, "tls must be close, wrong-name or slow, got %q%s", s, didYouMean(s, []string{TLSClose, TLSWrongName, TLSSlow}))
			}
			r.TLSMode = s
		}
	}
	t := r.Match.Transport
	if t.Any() || t&^TransportSet(DoT, DoH) != 0 {
		d.errorf(n, "rule %q: action tls-fail acts on TLS handshakes: give match: {transport: dot}, doh, or [dot, doh]", r.Name)
	}
	if len(r.Match.Names) > 0 || len(r.Match.Types) > 0 {
		d.errorf(n, "rule %q: action tls-fail acts before any query is read, so it cannot match names or types: match by clients and transport", r.Name)
	}
	if r.TLSMode == TLSSlow && r.Delay == 0 {
		d.errorf(n, "rule %q: tls: slow waits out the rule's delay: give delay", r.Name)
	}
}
