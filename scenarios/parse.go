package scenarios

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Options change how a scenario file is read.
type Options struct {
	// Set overrides parameter defaults, as `--set name=value` does. Naming a
	// parameter the file does not declare is an error.
	Set map[string]string
	// Seed, when not nil, overrides the file's seed.
	Seed *int64
	// ReadFile reads a file the scenario names (a zone file), given its
	// path relative to the scenario file. When nil, naming a file is an
	// error.
	ReadFile func(name string) ([]byte, error)
	// NoProbes refuses `probes:`, which connect out and run commands: a
	// scenario sent over the control API may not (they run only from the
	// scenario dnsfault starts with).
	NoProbes bool
	// NoFilesWhy, with ReadFile nil, says why the scenario may not name
	// files, in the error a zone file or an extended file gets.
	NoFilesWhy string

	// depth counts the scenarios extending this one; setMayNameOthers lets
	// Set name parameters the file does not declare (a base scenario gets
	// the parameters of the file that extends it).
	depth            int
	setMayNameOthers bool
}

// Load reads and parses the scenario file at path; zone files are read
// relative to its folder.
func Load(path string, opts Options) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	if opts.ReadFile == nil {
		opts.ReadFile = inFolder(filepath.Dir(path))
	}
	return Parse(path, data, opts)
}

var topLevelKeys = []string{"version", "extends", "name", "description", "source", "params", "upstream", "zones", "seed", "startAt", "expect", "probes", "rules", "phases", "phase_rules", "replace"}

// Parse parses and validates a scenario; file names it in messages. On any
// problem it returns a nil Scenario and an ErrorList holding every problem.
func Parse(file string, data []byte, opts Options) (*Scenario, error) {
	d := &decoder{file: file, params: map[string]string{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ErrorList{syntaxError(file, data, err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, ErrorList{{File: file, Msg: "empty scenario file: expected at least `version: 1`"}}
	}
	if e := checkAliases(file, &doc); e != nil {
		return nil, ErrorList{*e}
	}
	root := doc.Content[0]
	top := d.fields(root, "the scenario", topLevelKeys...)

	sc := &Scenario{Name: strings.TrimSuffix(filepath.Base(strings.TrimPrefix(file, "bundled:")), filepath.Ext(file))}
	var base *Scenario
	if n := top["extends"]; n != nil {
		base = d.parseExtends(n, top["params"], opts)
	}
	var inherited map[string]string
	if base != nil {
		inherited = base.Params
	}
	d.params = d.parseParams(top["params"], inherited, opts.Set, opts.setMayNameOthers)
	sc.Params = d.params

	if n := top["version"]; n == nil {
		d.errorf(root, "missing `version: 1`")
	} else if v, ok := d.int(n, "version", 0, 1<<31); ok && v != 1 {
		d.errorf(n, "unsupported version %d: this dnsfault reads version 1", v)
	} else {
		sc.Version = int(v)
	}
	if n := top["name"]; n != nil {
		sc.Name = d.str(n, "name")
	}
	if n := top["description"]; n != nil {
		sc.Description = d.str(n, "description")
	}
	if n := top["source"]; n != nil {
		sc.Source = d.str(n, "source")
	}
	if n := top["upstream"]; n != nil {
		sc.Upstream = d.parseUpstream(n)
	}
	if n := top["seed"]; n != nil {
		if v, ok := d.int(n, "seed", -1<<63, 1<<63-1); ok {
			sc.Seed, sc.HasSeed = v, true
		}
	}
	if n := top["startAt"]; n != nil {
		if s, ok := d.scalar(n, "startAt"); ok {
			at, err := time.Parse(time.RFC3339, s)
			if err != nil {
				d.errorf(n, "startAt must be an RFC 3339 time such as 2025-10-20T06:48:00Z, got %q", s)
			}
			sc.StartAt = at
		}
	}
	if opts.Seed != nil {
		sc.Seed, sc.HasSeed = *opts.Seed, true
	}
	if n := top["zones"]; n != nil {
		for _, zn := range d.list(n, "zones") {
			if z, ok := d.parseZone(zn, opts); ok {
				sc.Zones = append(sc.Zones, z)
			}
		}
		d.checkZoneOrigins(n, sc.Zones)
	}
	if base != nil {
		d.inherit(sc, base, top)
	} else if top["extends"] == nil {
		sc.Phases = d.parsePhases(root, top["phases"], top["rules"])
		for _, key := range []string{"phase_rules", "replace"} {
			if n := top[key]; n != nil {
				d.errorf(n, "%s changes the phases of a scenario this one extends: use it with extends:", key)
			}
		}
	}
	if n := top["probes"]; n != nil && opts.NoProbes {
		d.errorf(n, "probes connect out and run commands: give them in the scenario dnsfault starts with (-s) or with --probe, not over the control API")
	} else if n != nil {
		for _, item := range d.list(n, "probes") {
			if s, ok := d.scalar(item, "probe"); ok {
				if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "tcp://") && !strings.HasPrefix(s, "exec:") {
					d.errorf(item, "probe %q: want http://URL, https://URL, tcp://HOST:PORT or exec:COMMAND", s)
					continue
				}
				sc.Probes = append(sc.Probes, s)
			}
		}
	}
	if n := top["expect"]; n != nil && len(sc.Phases) > 0 {
		sc.Expect = d.parseExpect(n, sc.Phases)
	}
	if sc.Expect.Baseline == "" && len(sc.Phases) > 1 {
		// Amplification is always measured, against the first phase
		// unless expect.baseline names another.
		sc.Expect.Baseline = sc.Phases[0].Name
	}

	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return sc, nil
}

// parseExpect reads `expect`; amplification needs a baseline phase that
// comes before the faults.
// expectKeys are the bounds `expect:` (and run's --expect) may set.
var expectKeys = []string{"max_amplification", "max_peak_amplification", "max_qps", "honours_ttl", "min_availability", "max_recovery"}

func (d *decoder) parseExpect(n *yaml.Node, phases []Phase) Expect {
	e := Expect{Given: map[string]bool{}}
	f := d.fields(n, "expect", append(expectKeys, "baseline", "why")...)
	for _, k := range expectKeys {
		e.Given[k] = f[k] != nil
		if !e.Given[k] {
			delete(e.Given, k)
		}
	}
	if v := f["why"]; v != nil {
		e.Sources = map[string]string{}
		for k, sv := range d.fields(v, "expect why", expectKeys...) {
			e.Sources[k] = d.str(sv, "why "+k)
			if f[k] == nil {
				d.errorf(sv, "why %s: the expectation gives no %s to explain", k, k)
			}
		}
	}
	if v := f["min_availability"]; v != nil {
		e.MinAvailability = d.minAvailability(v, phases)
	}
	if v := f["max_recovery"]; v != nil {
		e.MaxRecovery, _ = d.duration(v, "max_recovery")
	}
	for key, bound := range map[string]*float64{"max_amplification": &e.MaxAmplification, "max_peak_amplification": &e.MaxPeakAmplification} {
		if v := f[key]; v != nil {
			*bound, _ = d.float(v, key, 1, 1e9)
			if len(phases) < 2 {
				d.errorf(v, "%s compares each phase with a healthy baseline phase: give phases, the first of them healthy", key)
			}
		}
	}
	if v := f["max_qps"]; v != nil {
		e.MaxQPS, _ = d.float(v, "max_qps", 0.001, 1e9)
	}
	if v := f["honours_ttl"]; v != nil {
		e.HonoursTTL = d.boolean(v, "honours_ttl")
	}
	if v := f["baseline"]; v != nil {
		e.Baseline = d.str(v, "baseline")
		names := make([]string, len(phases))
		for i, p := range phases {
			names[i] = p.Name
		}
		if e.Baseline != "" && !contains(names, e.Baseline) {
			d.errorf(v, "baseline: no phase named %q%s", e.Baseline, didYouMean(e.Baseline, names))
		}
	} else if len(phases) > 0 {
		e.Baseline = phases[0].Name
	}
	return e
}

// yamlLine finds the line number in the yaml package's error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, data []byte, err error) Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Error{File: file, Line: culpritLine(data, line, msg), Column: 1, Msg: "YAML syntax: " + m[2]}
	}
	return Error{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// culpritLine finds the line a YAML error is about. The parser names the
// line where the block it was reading began (an indentation mistake three
// lines into a rule is reported at `rules:`); the first prefix of the file
// that fails the same way ends at the line to look at.
func culpritLine(data []byte, reported int, msg string) int {
	if len(data) > culpritSearchLimit {
		return reported
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	var v any
	for k := reported + 1; k <= len(lines) && k <= reported+100; k++ {
		err := yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &v)
		if err != nil {
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil && m[2] == yamlLine.FindStringSubmatch(msg)[2] {
				return k
			}
			return reported
		}
	}
	return reported
}

// culpritSearchLimit is the largest file culpritLine parses again, up to
// 100 times: past it, the parser's line stands.
const culpritSearchLimit = 256 << 10

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// parseParams returns the parameter values: those inherited from a base
// scenario, the file's defaults, then the overrides, each of which must
// name a declared parameter unless setMayNameOthers.
func (d *decoder) parseParams(n *yaml.Node, inherited, set map[string]string, setMayNameOthers bool) map[string]string {
	params := map[string]string{}
	for k, v := range inherited {
		params[k] = v
	}
	if n != nil {
		if n.Kind != yaml.MappingNode {
			d.errorf(n, "params must be a mapping of name: default value, got %s", describe(n))
		} else {
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				switch {
				case !paramName.MatchString(key.Value):
					d.errorf(key, "parameter name %q must be letters, digits, _ and -", key.Value)
				case val.Kind != yaml.ScalarNode:
					d.errorf(val, "parameter %s: default must be a single value, got %s", key.Value, describe(val))
				default:
					params[key.Value] = val.Value
				}
			}
		}
	}
	for _, name := range sortedKeys(set) {
		if _, ok := params[name]; !ok {
			if setMayNameOthers {
				continue
			}
			known := sortedKeys(params)
			hint := didYouMean(name, known)
			if hint == "" && len(known) > 0 {
				hint = "; it has: " + strings.Join(known, ", ")
			}
			d.errs = append(d.errs, Error{File: d.file, Msg: fmt.Sprintf("--set %s: the scenario has no parameter %q%s", name, name, hint)})
			continue
		}
		params[name] = set[name]
	}
	return params
}

// parseUpstream reads `system`, `none`, or one or more IP[:port] addresses.
func (d *decoder) parseUpstream(n *yaml.Node) []string {
	var out []string
	items := d.list(n, "upstream")
	for _, item := range items {
		s, ok := d.scalar(item, "upstream")
		if !ok {
			continue
		}
		if s == "system" || s == "none" {
			if len(items) > 1 {
				d.errorf(item, "upstream %q must stand alone, not in a list", s)
				continue
			}
			out = append(out, s)
			continue
		}
		addr, err := ParseHostPort(s)
		if err != nil {
			d.errorf(item, "upstream: %v", err)
			continue
		}
		out = append(out, addr)
	}
	return out
}

// ParseHostPort checks an upstream address, IP or IP:PORT (IPv6 in brackets
// with a port), and returns it as IP:PORT, with port 53 when none is given.
// Host names are refused: resolving them would need the very DNS that
// dnsfault may be standing in for.
func ParseHostPort(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("%q: port 0 is not a port to forward to", s)
		}
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", fmt.Errorf("%q is not system, none, or an IP address with an optional port (such as 127.0.0.1:5353 or [::1]:53)", s)
}

// inFolder reads files named relative to dir, and only inside it: a
// scenario (which may come from anyone, through ctl load or a shared
// repository) cannot make dnsfault read /etc/shadow or ../../secrets,
// symbolic links included.
func inFolder(dir string) func(name string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if filepath.IsAbs(name) || !filepath.IsLocal(name) {
			return nil, fmt.Errorf("%q: name a file inside the scenario's folder, relative to it", name)
		}
		f, err := os.OpenInRoot(dir, name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxZoneFile+1))
	}
}

// maxZoneFile bounds a zone file read for a scenario.
const maxZoneFile = 64 << 20

// minAvailability reads `min_availability`: a percentage for every phase,
// or a map of phase names to percentages.
func (d *decoder) minAvailability(n *yaml.Node, phases []Phase) map[string]float64 {
	out := map[string]float64{}
	if n.Kind != yaml.MappingNode {
		if v, ok := d.availability(n, "min_availability"); ok {
			out[""] = v
		}
		return out
	}
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = p.Name
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(names, k.Value) {
			d.errorf(k, "min_availability: no phase named %q%s", k.Value, didYouMean(k.Value, names))
			continue
		}
		if pct, ok := d.availability(v, "min_availability of "+k.Value); ok {
			out[k.Value] = pct
		}
	}
	return out
}

// availability reads a share of calls, in percent: "99.5%", or a bare
// number, a fraction up to 1 (0.5 is 50%) and a percentage above it.
func (d *decoder) availability(n *yaml.Node, what string) (float64, bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0, false
	}
	pct, isPct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	switch {
	case err != nil || v < 0 || v > 100:
		d.errorf(n, "%s must be a share of calls: a percentage (99.5%%, or 99.5) or a fraction (0.995), got %q", what, s)
		return 0, false
	case !isPct && v <= 1:
		return 100 * v, true
	}
	return v, true
}
