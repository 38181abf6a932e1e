package scenarios

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults judged when neither the scenario nor --expect states an
// expectation: they fit any service, so that no run passes without a
// verdict on the service itself.
const (
	// DefaultMaxRecovery: the service is back at its healthy level
	// within 5 minutes (scenario time) of the cause's fix.
	DefaultMaxRecovery = 5 * time.Minute
	// DefaultMaxPeakAmplification: no retry storm, no target name
	// queried in any second at more than 10 times its healthy rate.
	DefaultMaxPeakAmplification = 10
)

// Defaulted returns e, or the defaults when e states nothing: the second
// result says which it is.
func (e Expect) Defaulted(phases []Phase) (Expect, bool) {
	if len(e.Given) > 0 {
		return e, false
	}
	d := e
	d.MaxRecovery = DefaultMaxRecovery
	d.Given = map[string]bool{"max_recovery": true}
	d.Sources = map[string]string{"max_recovery": "dnsfault's default: any service should be back at its healthy level within 5 minutes of the fix"}
	if len(phases) > 1 {
		d.MaxPeakAmplification = DefaultMaxPeakAmplification
		d.Given["max_peak_amplification"] = true
		d.Sources["max_peak_amplification"] = "dnsfault's default: no retry storm, no name asked in any second at over 10 times its healthy rate"
	}
	return d, true
}

// WithExpect returns sc with the expectations of run's --expect
// KEY=VALUE pairs over its own, each VALUE read as in `expect:`.
func WithExpect(sc *Scenario, pairs []string) (*Scenario, error) {
	if len(pairs) == 0 {
		return sc, nil
	}
	keys := append(append([]string{}, expectKeys...), "baseline")
	var doc strings.Builder
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !contains(keys, k) {
			hint := didYouMean(k, keys)
			if hint == "" {
				hint = "; KEY is one of " + strings.Join(keys, ", ")
			}
			return nil, fmt.Errorf("--expect %q: want KEY=VALUE%s", p, hint)
		}
		fmt.Fprintf(&doc, "%s: %s\n", k, v)
	}
	d := &decoder{file: "--expect", params: sc.Params}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc.String()), &root); err != nil || len(root.Content) == 0 {
		return nil, fmt.Errorf("--expect: a VALUE is not one expect: takes (%v)", err)
	}
	e := d.parseExpect(root.Content[0], sc.Phases)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	out := *sc
	merged := sc.Expect
	merged.Given, merged.Sources = maps.Clone(merged.Given), maps.Clone(merged.Sources)
	if merged.Given == nil {
		merged.Given = map[string]bool{}
	}
	if merged.Sources == nil {
		merged.Sources = map[string]string{}
	}
	for k := range e.Given {
		merged.Given[k] = true
		merged.Sources[k] = "--expect on the command line"
		switch k {
		case "max_amplification":
			merged.MaxAmplification = e.MaxAmplification
		case "max_peak_amplification":
			merged.MaxPeakAmplification = e.MaxPeakAmplification
		case "max_qps":
			merged.MaxQPS = e.MaxQPS
		case "honours_ttl":
			merged.HonoursTTL = e.HonoursTTL
		case "min_availability":
			merged.MinAvailability = e.MinAvailability
		case "max_recovery":
			merged.MaxRecovery = e.MaxRecovery
		}
	}
	if strings.Contains(doc.String(), "\nbaseline:") || strings.HasPrefix(doc.String(), "baseline:") {
		merged.Baseline = e.Baseline
	}
	out.Expect = merged
	return &out, nil
}
