package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the summary for people: phases and rules, unmatched
// names, client behaviour, expectations, and the verdict.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ttls := ""
	if r.TTLScale > 1 {
		ttls = fmt.Sprintf(" (TTLs divided by %g)", r.TTLScale)
	}
	fmt.Fprintf(tw, "dnsfault run: scenario %s, seed %d, speed %gx%s: %.1fs, %d queries%s\n", r.Scenario, r.Seed, r.Speed, ttls, r.DurationSeconds, r.Queries, byTransport(r.Transports))
	if r.StartWhen == "first-query" {
		if r.TimelineStartSeconds != nil {
			fmt.Fprintf(tw, "The timeline began with the first query, %.1fs into the run.\n", *r.TimelineStartSeconds)
		} else {
			fmt.Fprintln(tw, "No query came, so the timeline never began.")
		}
	}
	fmt.Fprintln(tw, "\nPHASE\tTIME\tRULE\tACTION\tQUERIES\tANSWERS")
	for _, p := range r.Phases {
		when := "not reached"
		if p.Reached {
			when = fmt.Sprintf("%.1fs-%.1fs", p.FromSeconds, p.ToSeconds)
		}
		if len(p.Rules) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\n", p.Name, when)
		}
		for i, rule := range p.Rules {
			name, w := p.Name, when
			if i > 0 {
				name, w = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", name, w, rule.Name, rule.Action, rule.Hits, rcodes(rule.Rcodes))
		}
	}
	if o := r.Overflow; o != nil {
		fmt.Fprintf(tw, "\nPast the report's bounds: at least %d more names (%d queries) counted together, and %d questions not followed for retries.\n", o.Names, o.Queries, o.Questions)
	}
	if len(r.Unmatched) > 0 {
		fmt.Fprintln(tw, "\nNames no rule matched (answered normally), most queried first:")
		for i, n := range r.Unmatched {
			if i == 10 {
				fmt.Fprintf(tw, "  ... and %d more\n", len(r.Unmatched)-10)
				break
			}
			fmt.Fprintf(tw, "  %s\t%d\n", n.Name, n.Queries)
		}
	}
	if len(r.Clients) > 0 {
		fmt.Fprintln(tw, "\nCLIENT BEHAVIOUR\tPHASE\tQUERIES\tQ/S\tx BASELINE\tPEAK Q/S\tPEAK x\tRE-ASKS AFTER FAILURE\tNEW LOOKUPS\tEARLY RE-ASKS")
		for _, b := range r.Clients {
			for i, np := range b.Phases {
				name := b.Name
				if i > 0 {
					name = ""
				}
				amp, peak := "baseline", "-"
				if np.BaselineTooShort || np.TooShort {
					amp, peak = "too short", "-" // not enough baseline, or of this phase, for a rate
				}
				if np.Amplification != nil {
					amp, peak = fmt.Sprintf("%.1f", *np.Amplification), fmt.Sprintf("%.1f", *np.PeakAmplification)
					if np.BaselineAssumed {
						amp, peak = ">="+amp, ">="+peak
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%s\t%d\t%s\t%d\t%d\t%d\n", name, np.Phase, np.Queries, np.QPS, amp, np.PeakQPS, peak, np.Retries, np.NewLookups, np.EarlyReasks)
			}
		}
	}
	if len(r.Service) > 0 {
		writeService(tw, "SERVICE", "", r.Service)
	}
	for _, pr := range r.Probes {
		writeService(tw, "PROBE", pr.Probe, pr.Service)
	}
	if r.ProbeQueries > 0 {
		fmt.Fprintf(tw, "\nThe probes asked %d DNS queries of their own, from their own address: no client figure above counts them.\n", r.ProbeQueries)
	}
	if r.StampedCalls > 0 {
		fmt.Fprintf(tw, "\n%d calls came without a time and were given the time dnsfault read them (up to 50 ms late): write start and end for exact figures.\n", r.StampedCalls)
	}
	if len(r.Service) > 0 {
		writeRecovery(tw, "The service", r.Recovery, r.Speed)
	}
	for _, pr := range r.Probes {
		writeRecovery(tw, "Probe "+pr.Probe, pr.Recovery, r.Speed)
	}
	if r.ExpectationsDefaulted {
		fmt.Fprint(tw, "\nThe scenario states no expectation: dnsfault judged its defaults (give expect: in the scenario, or --expect KEY=VALUE).\n")
	}
	for _, e := range r.Expectations {
		source := ""
		if e.Source != "" {
			source = " [" + e.Source + "]"
		}
		measured := ""
		if e.Measured != "" {
			measured = " (" + e.Measured + ")"
		}
		switch {
		case e.NotJudged != "":
			fmt.Fprintf(tw, "\nexpect %s: %s: NOT JUDGED: %s%s\n", e.Name, e.Limit, e.NotJudged, source)
		case e.OK:
			fmt.Fprintf(tw, "\nexpect %s: %s: met%s%s\n", e.Name, e.Limit, measured, source)
		default:
			fmt.Fprintf(tw, "\nexpect %s: %s: BROKEN%s%s\n", e.Name, e.Limit, measured, source)
			for _, b := range e.Breaches {
				fmt.Fprintf(tw, "  %s\n", b)
			}
		}
	}
	if len(r.Service) == 0 && len(r.Probes) == 0 {
		fmt.Fprint(tw, "\nThe service itself was not judged: no call was reported (write one line per call to $DNSFAULT_EVENTS, or give --probe).\n")
	}
	for _, a := range r.AdHocRules {
		fmt.Fprintf(tw, "\nad-hoc rule %s (%s, added during the run): %d hits\n", a.Name, a.Action, a.Hits)
	}
	if len(r.Unexercised) > 0 {
		fmt.Fprintf(tw, "\nRules never exercised: %s.\n  %s.\n", describeRules(r.Unexercised), unexercisedHint)
	}
	fmt.Fprintf(tw, "\nverdict: %s (exit status %d)\n", r.explain(), r.ExitCode)
	return tw.Flush()
}

func (r *Report) explain() string {
	switch r.Verdict {
	case "command-failed":
		return fmt.Sprintf("FAIL: the command exited with status %d", r.CommandExitCode)
	case "expectation-failed":
		var names []string
		for _, e := range r.Expectations {
			if !e.OK {
				names = append(names, e.Name)
			}
		}
		return "FAIL: the command passed, but clients broke expect " + strings.Join(names, ", ")
	case "unexercised":
		return "FAIL: the command passed, but rules never fired: " + describeRules(r.Unexercised)
	}
	return "PASS"
}

func rcodes(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// JUnit XML, as CI systems read it.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Time      string      `xml:"time,attr"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut string      `xml:"system-out,omitempty"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Failure *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a test case for the command,
// one per rule ("exercised"), and one per expectation.
func (r *Report) WriteJUnit(w io.Writer) error {
	suite := junitSuite{Name: "dnsfault " + r.Scenario, Time: fmt.Sprintf("%.3f", r.DurationSeconds)}
	add := func(class, name, failure, detail string) {
		c := junitCase{Class: class, Name: name}
		if failure != "" {
			c.Failure = &junitFailure{Message: failure, Text: detail}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
		suite.Tests++
	}
	cmdFailure := ""
	if r.CommandExitCode != 0 {
		cmdFailure = fmt.Sprintf("exited with status %d", r.CommandExitCode)
	}
	add("dnsfault.command", strings.Join(r.Command, " "), cmdFailure, "")
	for _, p := range r.Phases {
		for _, rule := range p.Rules {
			failure, detail := "", ""
			if !rule.Exercised {
				failure, detail = "never fired", unexercisedHint
			}
			add("dnsfault.rules", fmt.Sprintf("%s/%s exercised", p.Name, rule.Name), failure, detail)
		}
	}
	for _, e := range r.Expectations {
		failure := ""
		if !e.OK {
			failure = fmt.Sprintf("%d breaches", len(e.Breaches))
		}
		add("dnsfault.expect", fmt.Sprintf("%s %s", e.Name, e.Limit), failure, strings.Join(e.Breaches, "\n"))
	}
	var summary strings.Builder
	r.WriteText(&summary)
	suite.SystemOut = summary.String()
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// byTransport writes the queries by transport, " (udp 40, doh 2)", when
// any came over another transport than UDP.
func byTransport(counts map[string]int) string {
	if len(counts) == 0 || len(counts) == 1 && counts["udp"] > 0 {
		return ""
	}
	var parts []string
	for _, t := range []string{"udp", "tcp", "dot", "doh"} {
		if n := counts[t]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", t, n))
		}
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// took says a duration in scenario time, and in wall time when --speed
// makes them differ.
func took(scenario, wall, speed float64) string {
	if speed <= 1 {
		return fmt.Sprintf("%.1fs", wall)
	}
	return fmt.Sprintf("%.1fs of scenario time (%.2fs of wall time at --speed %g)", scenario, wall, speed)
}

// writeService writes one subject's calls per phase: the service's own
// (SERVICE) or one probe's (PROBE, named).
func writeService(tw io.Writer, title, name string, phases []ServicePhase) {
	fmt.Fprintf(tw, "\n%s\tPHASE\tCALLS\tAVAILABLE\tIN FLIGHT AT END\tQUERIES/CALL\tP50\tP99\tERRORS\n", title)
	for i, sp := range phases {
		p50, p99 := "-", "-"
		if sp.LatencyP50Ms != nil {
			p50, p99 = fmt.Sprintf("%.1f ms", *sp.LatencyP50Ms), fmt.Sprintf("%.1f ms", *sp.LatencyP99Ms)
		}
		var errs []string
		for class, n := range sp.Errors {
			errs = append(errs, fmt.Sprintf("%s %d", class, n))
		}
		sort.Strings(errs)
		label := ""
		if i == 0 {
			label = name
		}
		perCall := "-"
		if sp.QueriesPerCall != nil {
			perCall = fmt.Sprintf("%.1f", *sp.QueriesPerCall)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%d\t%s\t%s\t%s\t%s\n", label, sp.Phase, sp.Calls, sp.Availability, sp.InFlightAtEnd, perCall, p50, p99, strings.Join(errs, ", "))
	}
}

// writeRecovery says how one subject came back after the fix.
func writeRecovery(tw io.Writer, who string, rec *Recovery, speed float64) {
	if rec == nil {
		return
	}
	fmt.Fprintf(tw, "\n%s: the cause was fixed when %s", who, rec.FixedBy)
	if rec.State == NotReached {
		fmt.Fprint(tw, ": the run ended before that.\n")
		return
	}
	fmt.Fprintf(tw, ", %.1fs into the run. ", rec.FixedAtSeconds)
	switch rec.State {
	case NeverFailed:
		fmt.Fprint(tw, "It never failed: there was nothing to recover from.\n")
	case NeverRecovered:
		fmt.Fprintf(tw, "It never recovered: not %d successes in a row after the fix, within the run.\n", rec.Run)
	case Recovered:
		fmt.Fprintf(tw, "First success %s after the fix; back at its healthy level (%d successes in a row) %s after it.\n",
			took(*rec.FirstSuccessScenarioSeconds, *rec.FirstSuccessSeconds, speed), rec.Run, took(*rec.HealthyScenarioSeconds, *rec.HealthySeconds, speed))
	}
}
