package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// maxExtends bounds a chain of scenarios extending each other, so a cycle
// ends with an error.
const maxExtends = 8

// parseExtends reads the base scenario that `extends` names: a bundled
// scenario by name, or a file beside this one (read the way zone files are,
// so a scenario cannot reach outside its folder). The base sees this
// file's parameter defaults and the --set overrides for the parameters it
// declares. Its errors keep their own file name and lines.
func (d *decoder) parseExtends(n, paramsNode *yaml.Node, opts Options) *Scenario {
	ref, ok := d.scalar(n, "extends")
	if !ok {
		return nil
	}
	if opts.depth >= maxExtends {
		d.errorf(n, "extends %q: scenarios extend each other more than %d deep; is there a cycle?", ref, maxExtends)
		return nil
	}
	set := map[string]string{}
	if paramsNode != nil && paramsNode.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(paramsNode.Content); i += 2 {
			set[paramsNode.Content[i].Value] = paramsNode.Content[i+1].Value
		}
	}
	for k, v := range opts.Set {
		set[k] = v
	}
	baseOpts := Options{Set: set, NoProbes: opts.NoProbes, NoFilesWhy: opts.NoFilesWhy, depth: opts.depth + 1, setMayNameOthers: true}
	var file string
	var data []byte
	var err error
	if strings.ContainsAny(ref, `/\`) || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") {
		if opts.ReadFile == nil {
			d.errorf(n, "extends %q: %s; extend a bundled scenario by name", ref, noFiles(opts.NoFilesWhy))
			return nil
		}
		data, err = opts.ReadFile(ref)
		file = path.Join(path.Dir(d.file), ref)
		baseOpts.ReadFile = func(name string) ([]byte, error) { return opts.ReadFile(path.Join(path.Dir(ref), name)) }
	} else {
		data, err = BundledSource(ref)
		file = "bundled:" + ref + ".yaml"
		baseOpts.ReadFile = readBundled
	}
	if err != nil {
		d.errorf(n, "extends: %v", err)
		return nil
	}
	base, err := Parse(file, data, baseOpts)
	if err != nil {
		var list ErrorList
		if errors.As(err, &list) {
			d.errorf(n, "extends %q: the base scenario has %s (listed after this)", ref, plural(len(list), "error"))
			d.errs = append(d.errs, list...)
		} else {
			d.errorf(n, "extends %q: %v", ref, err)
		}
		return nil
	}
	return base
}

// inherit completes sc, a scenario that extends base: the base's
// timeline with this file's rules first in every phase, and for each other
// setting this file's value when it gives one, else the base's. Zones are
// merged; a zone here replaces the base's zone of the same origin.
func (d *decoder) inherit(sc, base *Scenario, top map[string]*yaml.Node) {
	if n := top["phases"]; n != nil {
		d.errorf(n, "a scenario that extends another takes its phases: add rules with top-level `rules:` (they apply in every phase), or copy the base to change its timeline")
	}
	var own []Rule
	if n := top["rules"]; n != nil {
		own = d.parseRules(n, sc.Name)
	}
	sc.Phases = make([]Phase, len(base.Phases))
	for i, p := range base.Phases {
		for _, r := range own {
			for _, br := range p.Rules {
				if br.Name == r.Name {
					d.errs = append(d.errs, Error{File: d.file, Line: r.Line, Column: r.Column,
						Msg: fmt.Sprintf("rule name %q is also a rule of phase %q of the base scenario: name it differently", r.Name, p.Name)})
				}
			}
		}
		p.Rules = append(append([]Rule(nil), own...), p.Rules...)
		sc.Phases[i] = p
	}
	if n := top["phase_rules"]; n != nil {
		d.addPhaseRules(n, sc.Phases)
	}
	if n := top["replace"]; n != nil {
		d.replaceRules(n, sc.Phases)
	}
	if top["description"] == nil {
		sc.Description = base.Description
	}
	if top["source"] == nil {
		sc.Source = base.Source
	}
	if top["upstream"] == nil {
		sc.Upstream = base.Upstream
	}
	if top["seed"] == nil && !sc.HasSeed {
		sc.Seed, sc.HasSeed = base.Seed, base.HasSeed
	}
	if top["startAt"] == nil {
		sc.StartAt = base.StartAt
	}
	if top["expect"] == nil {
		sc.Expect = base.Expect
	}
	sc.Probes = append(append([]string(nil), base.Probes...), sc.Probes...)
	sc.Zones = MergeZones(base.Zones, sc.Zones)
}

// addPhaseRules reads `phase_rules: {PHASE: [rules]}`: rules put first in
// one phase of the base only (an outage's variant, say, not its healthy
// phase).
func (d *decoder) addPhaseRules(n *yaml.Node, phases []Phase) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "phase_rules must be a mapping of a phase's name to its added rules, got %s", describe(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		at := phaseIndex(phases, k.Value)
		if at < 0 {
			d.errorf(k, "phase_rules: the base has no phase %q%s", k.Value, didYouMean(k.Value, phaseNames(phases)))
			continue
		}
		added := d.parseRules(v, phases[at].Name)
		for _, r := range added {
			if ruleIndex(phases[at].Rules, r.Name) >= 0 {
				d.errs = append(d.errs, Error{File: d.file, Line: r.Line, Column: r.Column,
					Msg: fmt.Sprintf("rule name %q is already a rule of phase %q: name it differently, or replace: it", r.Name, phases[at].Name)})
			}
		}
		phases[at].Rules = append(added, phases[at].Rules...)
	}
}

// replaceRules reads `replace: {RULE: {action: ..., ...}}`: each base rule
// of that name, in every phase it stands in, becomes the rule given,
// keeping its name, its place and its match; everything else (action,
// delay, ttl, probability, ...) is the replacement's, not merged.
func (d *decoder) replaceRules(n *yaml.Node, phases []Phase) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "replace must be a mapping of a base rule's name to the rule that replaces it, got %s", describe(n))
		return
	}
	var names []string
	for _, p := range phases {
		for _, r := range p.Rules {
			names = append(names, r.Name)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if key := v.Content[j].Value; key == "match" || key == "name" {
					d.errorf(v.Content[j], "replace %s: a replacement keeps the base rule's %s; give a new rule in rules: or phase_rules: instead", k.Value, key)
				}
			}
		}
		found := false
		for pi := range phases {
			at := ruleIndex(phases[pi].Rules, k.Value)
			if at < 0 {
				continue
			}
			found = true
			old := phases[pi].Rules[at]
			r := d.parseRule(v, old.Name)
			r.Name, r.Match, r.NotViaCNAME = old.Name, old.Match, old.NotViaCNAME
			phases[pi].Rules[at] = r
		}
		if !found {
			d.errorf(k, "replace: the base has no rule %q%s", k.Value, didYouMean(k.Value, names))
		}
	}
}

func phaseIndex(phases []Phase, name string) int {
	for i, p := range phases {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func phaseNames(phases []Phase) []string {
	out := make([]string, len(phases))
	for i, p := range phases {
		out[i] = p.Name
	}
	return out
}

func ruleIndex(rules []Rule, name string) int {
	for i, r := range rules {
		if r.Name == name {
			return i
		}
	}
	return -1
}

// MergeZones returns base's zones with over's added; a zone of over
// replaces base's zone of the same origin, records and all, but a zone
// base signs stays signed unless over says how to sign it: pointing a
// signed outage at your own records (--zone) must not switch DNSSEC off.
func MergeZones(base, over []Zone) []Zone {
	out := make([]Zone, 0, len(base)+len(over))
	for _, z := range base {
		if originIndex(over, z.Origin) < 0 {
			out = append(out, z)
		}
	}
	for _, z := range over {
		if i := originIndex(base, z.Origin); i >= 0 && z.DNSSEC == nil {
			z.DNSSEC = base[i].DNSSEC
		}
		out = append(out, z)
	}
	return out
}

// originIndex is the index of the zone of origin in zones, or -1.
func originIndex(zones []Zone, origin string) int {
	for i, z := range zones {
		if z.Origin == origin {
			return i
		}
	}
	return -1
}

// ReadZoneFile reads an RFC 1035 zone file given on the command line
// (--zone). Its origin is the owner of its SOA record or, without one, its
// first $ORIGIN. Errors name the file, line and column.
func ReadZoneFile(file string) (Zone, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Zone{}, err
	}
	zp := dns.NewZoneParser(strings.NewReader(string(data)), ".", file)
	zp.SetIncludeAllowed(false)
	var records []dns.RR
	origin := ""
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if soa, isSOA := rr.(*dns.SOA); isSOA && origin == "" {
			origin = strings.ToLower(soa.Hdr.Name)
		}
		records = append(records, rr)
	}
	if err := zp.Err(); err != nil {
		msg, line, col := zoneFileError(err)
		return Zone{}, Error{File: file, Line: line, Column: col, Msg: msg}
	}
	if origin == "" {
		origin = firstOrigin(string(data))
	}
	if origin == "" {
		return Zone{}, Error{File: file, Msg: "no SOA record and no $ORIGIN: dnsfault takes the zone's origin from one of them"}
	}
	if len(records) == 0 {
		return Zone{}, Error{File: file, Msg: "no records"}
	}
	for _, rr := range records {
		if err := fitsAMessage(rr); err != nil {
			return Zone{}, Error{File: file, Msg: err.Error()}
		}
		if !dns.IsSubDomain(origin, rr.Header().Name) {
			return Zone{}, Error{File: file, Msg: fmt.Sprintf("record %s %s is outside the zone %s", rr.Header().Name, dns.TypeToString[rr.Header().Rrtype], origin)}
		}
	}
	return Zone{Origin: origin, Records: records}, nil
}

// firstOrigin finds the first $ORIGIN directive of a zone file.
func firstOrigin(text string) string {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[0], "$ORIGIN") {
			return strings.ToLower(dns.Fqdn(f[1]))
		}
	}
	return ""
}

// noFiles says why a scenario may not name files.
func noFiles(why string) string {
	if why != "" {
		return why
	}
	return "this scenario cannot name files (it was not loaded from a folder)"
}

// plural writes n with its noun, "1 phase" or "2 phases".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
