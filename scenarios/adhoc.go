package scenarios

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// AdHocRule is one rule added to a running server (POST /v1/rules, `ctl
// add`), in front of the phase's rules, until it is removed or For runs
// out.
type AdHocRule struct {
	Rule Rule
	// For is how long the rule stays; 0: until it is removed.
	For time.Duration
}

// ParseAdHocRule reads one rule in scenario syntax (YAML or JSON), with a
// `name` (required: it is how the rule is removed) and an optional `for:
// DURATION`. ${name} refers to params, the running scenario's parameters.
// Errors are positioned in file, as a scenario's are.
func ParseAdHocRule(file string, data []byte, params map[string]string) (AdHocRule, error) {
	d := &decoder{file: file, params: params}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return AdHocRule{}, ErrorList{syntaxError(file, data, err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return AdHocRule{}, ErrorList{{File: file, Msg: "empty rule: expected a mapping with name, match and action"}}
	}
	if e := checkAliases(file, &doc); e != nil {
		return AdHocRule{}, ErrorList{*e}
	}
	n := doc.Content[0]
	var out AdHocRule
	if n.Kind == yaml.MappingNode {
		// `for` belongs to the ad-hoc rule, not to the rule syntax.
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "for" {
				if v, ok := d.duration(n.Content[i+1], "for"); ok {
					if v == 0 {
						d.errorf(n.Content[i+1], "for must be above zero; leave it out for a rule that stays until removed")
					}
					out.For = v
				}
				continue
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		n.Content = kept
	}
	out.Rule = d.parseRule(n, "")
	if out.Rule.Name == "" && n.Kind == yaml.MappingNode {
		d.errorf(n, "an ad-hoc rule needs a name, to remove it by")
	}
	if len(d.errs) > 0 {
		return AdHocRule{}, d.errs.sorted()
	}
	return out, nil
}
