package scenarios

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Summary is the rule in one line: what it does to which queries.
func (r *Rule) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Name, r.Action)
	if r.Probability != Always {
		if r.Probability.From == r.Probability.To {
			fmt.Fprintf(&b, " %g%%", 100*r.Probability.From)
		} else {
			fmt.Fprintf(&b, " %g%%->%g%%", 100*r.Probability.From, 100*r.Probability.To)
		}
	}
	var names []string
	for _, n := range r.Match.Names {
		names = append(names, n.Text)
	}
	if len(names) == 0 {
		names = []string{"every name"}
	}
	fmt.Fprintf(&b, " of %s", strings.Join(names, ", "))
	if len(r.Match.Types) > 0 {
		var types []string
		for _, t := range r.Match.Types {
			types = append(types, dns.TypeToString[t])
		}
		fmt.Fprintf(&b, " %s", strings.Join(types, "/"))
	}
	if !r.Match.Transport.Any() {
		fmt.Fprintf(&b, " over %s", r.Match.Transport)
	}
	if len(r.Match.Clients) > 0 {
		var clients []string
		for _, c := range r.Match.Clients {
			clients = append(clients, c.String())
		}
		fmt.Fprintf(&b, " from %s", strings.Join(clients, ", "))
	}
	if r.Delay > 0 || r.Jitter > 0 {
		fmt.Fprintf(&b, ", after %v", r.Delay)
		if r.Jitter > 0 {
			fmt.Fprintf(&b, "+-%v", r.Jitter)
		}
	}
	if r.TTL != nil {
		fmt.Fprintf(&b, ", ttl %d", *r.TTL)
	}
	if r.DNSSEC != "" {
		fmt.Fprintf(&b, ", dnssec %s", r.DNSSEC)
	}
	return b.String()
}
