package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/scenarios"
)

func scenariosCommand() *cli.Command {
	return &cli.Command{
		Name:  "scenarios",
		Usage: "the bundled scenario library",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the bundled scenarios",
				Action: func(*cli.Context) error {
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tDURATION\tSUMMARY")
					for _, name := range scenarios.Bundled() {
						sc, err := scenarios.Open(name, scenarios.Options{})
						if err != nil {
							return fmt.Errorf("bundled scenario %s: %w", name, err)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\n", name, totalDuration(sc), summary(sc.Description))
					}
					return tw.Flush()
				},
			},
			{
				Name:      "show",
				Usage:     "print a bundled scenario's YAML, or with --timeline its phases",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "timeline", Usage: "print the phases and their rules as a timeline"},
					setFlag,
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cli.Exit("dnsfault scenarios show: name one scenario (dnsfault scenarios list)", 2)
					}
					name := c.Args().First()
					if !c.Bool("timeline") {
						data, err := scenarios.BundledSource(name)
						if err != nil {
							return cli.Exit(err.Error(), 1)
						}
						_, err = os.Stdout.Write(data)
						return err
					}
					opts, err := scenarioOptions(c)
					if err != nil {
						return cli.Exit(err.Error(), 2)
					}
					sc, err := scenarios.Open(name, opts)
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					printTimeline(os.Stdout, sc)
					return nil
				},
			},
		},
	}
}

// totalDuration is the length of a scenario's timed phases, with "+" when
// the last phase lasts until the end.
func totalDuration(sc *scenarios.Scenario) string {
	var total time.Duration
	for _, p := range sc.Phases {
		total += p.Duration
	}
	last := sc.Phases[len(sc.Phases)-1]
	switch {
	case total == 0:
		return "endless"
	case last.Duration == 0:
		return shortDuration(total) + "+"
	}
	return shortDuration(total)
}

// shortDuration writes 2h37m0s as 2h37m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// printTimeline writes each phase with its start, length and rules.
func printTimeline(w io.Writer, sc *scenarios.Scenario) {
	fmt.Fprintf(w, "%s: %s\n", sc.Name, summary(sc.Description))
	if len(sc.Params) > 0 {
		var params []string
		for _, k := range sortedParamNames(sc.Params) {
			params = append(params, k+"="+sc.Params[k])
		}
		fmt.Fprintf(w, "parameters: %s\n", strings.Join(params, " "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tPHASE\tLASTS\tRULES")
	var at time.Duration
	for _, p := range sc.Phases {
		lasts := "until the end"
		if p.Duration > 0 {
			lasts = shortDuration(p.Duration)
		}
		first := true
		line := func(rule string) {
			if first {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shortDuration(at), p.Name, lasts, rule)
				first = false
				return
			}
			fmt.Fprintf(tw, "\t\t\t%s\n", rule)
		}
		if len(p.Rules) == 0 {
			line("(none: answered normally)")
		}
		for _, r := range p.Rules {
			line(describeRule(&r))
		}
		at += p.Duration
	}
	if last := sc.Phases[len(sc.Phases)-1]; last.Duration > 0 {
		fmt.Fprintf(tw, "%s\t(end)\t\tevery fault off\n", shortDuration(at))
	}
	tw.Flush()
}

// describeRule is a rule in one line: what it does to which queries.
func describeRule(r *scenarios.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Name, r.Action)
	if r.Probability != scenarios.Always {
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
	if r.Match.Transport != scenarios.AnyTransport {
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
	return b.String()
}

func sortedParamNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

// summary is the first sentence of a description.
func summary(description string) string {
	s := strings.Join(strings.Fields(description), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
