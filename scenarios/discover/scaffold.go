package discover

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Target picks the dependencies a scaffolded scenario fails: every field
// given must match.
type Target struct {
	Provider, Region, Service string
	// Action is what their queries get (default servfail).
	Action string
}

func (t Target) matches(l Location) bool {
	eq := func(want, got string) bool { return want == "" || strings.EqualFold(want, got) }
	return eq(t.Provider, l.Provider) && eq(t.Region, l.Region) && eq(t.Service, l.Service)
}

func (t Target) String() string {
	var parts []string
	for _, p := range []string{t.Provider, t.Region, t.Service} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// ErrNoTarget is returned when no recorded name matches the target.
var ErrNoTarget = errors.New("no recorded name matches")

// Scaffold writes a scenario that fails the recorded names of target for
// ten minutes, between a healthy minute and recovery. The recorded answers
// become its zones and its upstream is none, so it replays offline, with
// no network at all. source names the recording in the description.
func Scaffold(rec Recording, target Target, source string) ([]byte, error) {
	if target.Action == "" {
		target.Action = "servfail"
	}
	m := Build(rec)
	var names []string
	for _, d := range m.Dependencies {
		if target.matches(d.Location) {
			names = append(names, strings.TrimSuffix(d.Name, "."))
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w %s; the recording has: %s", ErrNoTarget, target, groupList(m))
	}
	doc := scaffoldDoc{
		Version: 1,
		Name:    "outage-" + strings.ToLower(strings.ReplaceAll(target.String(), " ", "-")),
		Description: fmt.Sprintf("Scaffolded by dnsfault deps from %s on %s: the %d recorded names that resolve into %s get %s for ten minutes; every other recorded name answers as it was recorded. Offline: the recorded answers are the zones and upstream is none.",
			source, time.Now().UTC().Format("2006-01-02"), len(names), target, target.Action),
		Upstream: "none",
		Zones:    zones(rec),
		Phases: []scaffoldPhase{
			{Name: "healthy", Duration: "1m"},
			{Name: "outage", Duration: "10m", Rules: []scaffoldRule{{Name: "outage", Match: scaffoldMatch{Names: names}, Action: target.Action}}},
			{Name: "recovered"},
		},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if _, err := scenarios.Parse("scaffold.yaml", out, scenarios.Options{}); err != nil {
		return nil, fmt.Errorf("the scaffolded scenario does not validate (a bug): %w", err)
	}
	return out, nil
}

type scaffoldDoc struct {
	Version     int             `yaml:"version"`
	Name        string          `yaml:"name"`
	Description string          `yaml:"description"`
	Upstream    string          `yaml:"upstream"`
	Zones       []scaffoldZone  `yaml:"zones,omitempty"`
	Phases      []scaffoldPhase `yaml:"phases"`
}

type scaffoldZone struct {
	Origin  string   `yaml:"origin"`
	Records []string `yaml:"records"`
}

type scaffoldPhase struct {
	Name     string         `yaml:"name"`
	Duration string         `yaml:"duration,omitempty"`
	Rules    []scaffoldRule `yaml:"rules,omitempty"`
}

type scaffoldRule struct {
	Name   string        `yaml:"name"`
	Match  scaffoldMatch `yaml:"match"`
	Action string        `yaml:"action"`
}

type scaffoldMatch struct {
	Names []string `yaml:"names"`
}

// zones turns the recorded answers into one zone per registered domain.
func zones(rec Recording) []scaffoldZone {
	byOrigin := map[string]map[string]bool{}
	for _, q := range rec.Questions {
		for _, a := range q.Answers {
			rr, err := dns.NewRR(a)
			if err != nil {
				continue
			}
			origin := dns.Fqdn(RegisteredDomain(rr.Header().Name))
			if byOrigin[origin] == nil {
				byOrigin[origin] = map[string]bool{}
			}
			byOrigin[origin][strings.ReplaceAll(rr.String(), "\t", " ")] = true
		}
	}
	var out []scaffoldZone
	for origin, records := range byOrigin {
		z := scaffoldZone{Origin: origin}
		for r := range records {
			z.Records = append(z.Records, r)
		}
		sort.Strings(z.Records)
		out = append(out, z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out
}

func groupList(m Map) string {
	var parts []string
	for _, g := range m.Groups {
		parts = append(parts, strings.TrimSpace(g.Provider+" "+g.Region))
	}
	return strings.Join(parts, ", ")
}
