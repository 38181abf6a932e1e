package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

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
			line(r.Summary())
		}
		at += p.Duration
	}
	if last := sc.Phases[len(sc.Phases)-1]; last.Duration > 0 {
		fmt.Fprintf(tw, "%s\t(end)\t\tevery fault off\n", shortDuration(at))
	}
	tw.Flush()
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
