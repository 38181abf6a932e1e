package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector/safefile"
	"github.com/dnsfault/dnsfault/scenarios/discover"
)

func depsCommand() *cli.Command {
	return &cli.Command{
		Name:      "deps",
		Usage:     "map the DNS dependencies of a recording (serve/run --record) by provider and region, or scaffold an outage of them",
		ArgsUsage: "RECORDING",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the map as JSON"},
			&cli.StringFlag{Name: "svg", Usage: "draw the map as an SVG picture into `FILE`"},
			&cli.StringFlag{Name: "scaffold", Usage: "write a scenario failing the names of a region, provider or service: `region-outage`, provider-outage or service-outage"},
			&cli.StringFlag{Name: "provider", Usage: "with --scaffold: AWS, GCP, Azure, Cloudflare, Fastly, Akamai, or a registered domain"},
			&cli.StringFlag{Name: "region", Usage: "with --scaffold: such as us-east-1"},
			&cli.StringFlag{Name: "service", Usage: "with --scaffold: such as dynamodb"},
			&cli.StringFlag{Name: "action", Value: "servfail", Usage: "with --scaffold: what the failing names get"},
		},
		Action: deps,
	}
}

func deps(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("dnsfault deps: name one RECORDING (written by serve or run with --record FILE)", 2)
	}
	f, err := os.Open(c.Args().First())
	if err != nil {
		return cli.Exit(fmt.Sprintf("dnsfault deps: %v", err), 1)
	}
	rec, err := discover.ReadRecording(f)
	f.Close()
	if err != nil {
		return cli.Exit(fmt.Sprintf("dnsfault deps: %s: %v", c.Args().First(), err), 1)
	}
	if kind := c.String("scaffold"); kind != "" {
		target := discover.Target{Provider: c.String("provider"), Region: c.String("region"), Service: c.String("service"), Action: c.String("action")}
		need := map[string]string{"region-outage": target.Region, "provider-outage": target.Provider, "service-outage": target.Service}
		want, known := need[kind]
		switch {
		case !known:
			return cli.Exit(fmt.Sprintf("dnsfault deps: --scaffold %q: expected region-outage, provider-outage or service-outage", kind), 2)
		case want == "":
			return cli.Exit(fmt.Sprintf("dnsfault deps: --scaffold %s needs --%s", kind, strings.TrimSuffix(kind, "-outage")), 2)
		}
		out, err := discover.Scaffold(rec, target, c.Args().First())
		if err != nil {
			return cli.Exit(fmt.Sprintf("dnsfault deps: %v", err), 1)
		}
		_, err = os.Stdout.Write(out)
		return err
	}
	m := discover.Build(rec)
	if path := c.String("svg"); path != "" {
		if err := safefile.Write(path, m.WriteSVG); err != nil {
			return cli.Exit(fmt.Sprintf("dnsfault deps: --svg: %v", err), 1)
		}
		fmt.Fprintf(os.Stderr, "dnsfault deps: wrote %s (%s)\n", path, plural(len(m.Dependencies), "name"))
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s.\n\n", m.Summary)
	fmt.Fprintln(tw, "PROVIDER\tREGION\tSERVICE\tNAME\tVIA\tQUERIES\tFAILED")
	for _, g := range m.Groups {
		for _, d := range m.Dependencies {
			if d.Provider != g.Provider || d.Region != g.Region {
				continue
			}
			via := "-"
			if len(d.Chain) > 0 {
				via = strings.Join(d.Chain, " -> ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", d.Provider, dash(d.Region), dash(d.Service), d.Name, via, d.Queries, d.Failures)
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
