package discover

import (
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// maxChain bounds the CNAME hops followed.
const maxChain = 8

// Dependency is one name a service asked for, and where it lives.
type Dependency struct {
	Name string `json:"name"`
	// Chain holds the CNAME targets followed from Name; the location is
	// the chain's end's when that is a known provider.
	Chain []string `json:"chain,omitempty"`
	Location
	Queries  int `json:"queries"`
	Failures int `json:"failures"` // answers other than NOERROR, and no answer at all
}

// Group is the dependencies that live with one provider in one region.
type Group struct {
	Provider string   `json:"provider"`
	Region   string   `json:"region,omitempty"`
	Names    []string `json:"names"`
}

// Map is a recording's dependencies, grouped.
type Map struct {
	Dependencies []Dependency `json:"dependencies"`
	Groups       []Group      `json:"groups"`
	// Summary says plainly where dependencies concentrate.
	Summary string `json:"summary"`
}

// known providers: a name that lives with one of them is placed there even
// behind a vanity CNAME.
var known = map[string]bool{"AWS": true, "GCP": true, "Azure": true, "Cloudflare": true, "Fastly": true, "Akamai": true}

// Build maps a recording's names.
func Build(rec Recording) Map {
	cnames := cnameTargets(rec)
	byName := map[string]*Dependency{}
	for _, q := range rec.Questions {
		if strings.HasSuffix(q.Name, ".in-addr.arpa.") || strings.HasSuffix(q.Name, ".ip6.arpa.") {
			continue
		}
		d := byName[q.Name]
		if d == nil {
			d = &Dependency{Name: q.Name}
			d.Location = Classify(q.Name)
			for next, hops := cnames[q.Name], 0; next != "" && hops < maxChain; next, hops = cnames[next], hops+1 {
				d.Chain = append(d.Chain, next)
			}
			if n := len(d.Chain); n > 0 {
				// The chain's end says where the name really lives, when
				// it says more than the name itself.
				end := Classify(d.Chain[n-1])
				if known[end.Provider] && (!known[d.Provider] || end.Region != "" && d.Region == "") {
					d.Location = end
				}
			}
			byName[q.Name] = d
		}
		d.Queries += q.Count
		for rcode, n := range q.Rcodes {
			if rcode != "NOERROR" {
				d.Failures += n
			}
		}
	}
	m := Map{Dependencies: []Dependency{}, Groups: []Group{}}
	for _, d := range byName {
		m.Dependencies = append(m.Dependencies, *d)
	}
	sort.Slice(m.Dependencies, func(i, j int) bool { return m.Dependencies[i].Name < m.Dependencies[j].Name })
	groups := map[[2]string]*Group{}
	for _, d := range m.Dependencies {
		k := [2]string{d.Provider, d.Region}
		if groups[k] == nil {
			groups[k] = &Group{Provider: d.Provider, Region: d.Region}
		}
		groups[k].Names = append(groups[k].Names, d.Name)
	}
	for _, g := range groups {
		m.Groups = append(m.Groups, *g)
	}
	sort.Slice(m.Groups, func(i, j int) bool {
		a, b := m.Groups[i], m.Groups[j]
		if len(a.Names) != len(b.Names) {
			return len(a.Names) > len(b.Names)
		}
		return a.Provider+" "+a.Region < b.Provider+" "+b.Region
	})
	m.Summary = summary(m)
	return m
}

// summary is the concentration in one sentence.
func summary(m Map) string {
	if len(m.Groups) == 0 {
		return "no dependencies were recorded"
	}
	top := m.Groups[0]
	where := top.Provider
	if top.Region != "" {
		where += " " + top.Region
	}
	return fmt.Sprintf("%d of %d dependencies resolve into %s", len(top.Names), len(m.Dependencies), where)
}

// cnameTargets maps each CNAME owner in the recorded answers to its target.
func cnameTargets(rec Recording) map[string]string {
	out := map[string]string{}
	for _, q := range rec.Questions {
		for _, a := range q.Answers {
			if rr, err := dns.NewRR(a); err == nil {
				if c, ok := rr.(*dns.CNAME); ok {
					out[strings.ToLower(c.Hdr.Name)] = strings.ToLower(c.Target)
				}
			}
		}
	}
	return out
}
