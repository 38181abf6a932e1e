package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/scenarios"
)

// configLine says, for the banner, what the server does besides the
// scenario's rules: where names go, what it answers itself, who it
// answers, how fast, and what it records.
func configLine(st control.Status) string {
	parts := []string{"forwarding to " + st.Upstream}
	if len(st.Zones) > 0 {
		parts = append(parts, "zones "+strings.Join(st.Zones, " "))
	}
	if len(st.Signed) > 0 {
		signed := "signed " + strings.Join(st.Signed, ", ")
		if st.DNSSECAnchors != "" {
			signed += ", trust anchors in " + st.DNSSECAnchors
		}
		parts = append(parts, signed)
	}
	if len(st.Allow) > 0 {
		parts = append(parts, "answering only "+strings.Join(st.Allow, " "))
	}
	if st.Speed != 1 {
		ttls := "TTLs as written"
		if st.TTLScale != 1 {
			ttls = fmt.Sprintf("TTLs divided by %g", st.TTLScale)
		}
		parts = append(parts, fmt.Sprintf("speed %gx (%s)", st.Speed, ttls))
	}
	if st.Record != "" {
		parts = append(parts, "recording into "+st.Record)
	}
	if st.QueryLog != "" {
		parts = append(parts, "logging queries to "+st.QueryLog)
	}
	return strings.Join(parts, "; ")
}

// minPhase is the shortest phase a speed may make: shorter, no query
// could be counted on to fall inside it.
const (
	minPhase  = time.Millisecond
	warnPhase = 100 * time.Millisecond
)

// checkSpeed refuses a --speed that would make a phase too short to be
// seen, and warns about one that makes it hard to hit.
func checkSpeed(sc *scenarios.Scenario, speed float64) (warning string, err error) {
	if speed <= 0 {
		return "", nil
	}
	for _, p := range sc.Phases {
		if p.Duration == 0 {
			continue
		}
		wall := time.Duration(float64(p.Duration) / speed)
		switch {
		case wall < minPhase:
			return "", fmt.Errorf("--speed %g makes phase %q last %v, too short for any query to see it: use --speed %g or less", speed, p.Name, wall, float64(p.Duration)/float64(warnPhase))
		case wall < warnPhase && warning == "":
			warning = fmt.Sprintf("--speed %g makes phase %q last %v: few queries will fall inside it", speed, p.Name, wall)
		case wall < clientGiveUp && len(p.Rules) > 0 && warning == "":
			// Clients' timeouts are wall time, not sped up: one dropped
			// lookup outlasts the phase, and is long in scenario time.
			warning = fmt.Sprintf("--speed %g makes phase %q last %v of wall time, shorter than common clients give a lookup (glibc and Go: 5 s a try, 2 tries; Java and Node: 5 s); a lookup the phase drops then lasts %v of scenario time",
				speed, p.Name, wall.Round(time.Millisecond), time.Duration(float64(clientGiveUp)*speed).Round(time.Second))
		}
	}
	return warning, nil
}

// clientGiveUp is how long common clients wait on one lookup before they
// give up: glibc's and Go's resolvers, 5 s a try and 2 tries.
const clientGiveUp = 10 * time.Second
