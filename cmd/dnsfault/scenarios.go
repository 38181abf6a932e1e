package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

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
					fmt.Fprintln(tw, "NAME\tSUMMARY")
					for _, name := range scenarios.Bundled() {
						sc, err := scenarios.Open(name, scenarios.Options{})
						if err != nil {
							return fmt.Errorf("bundled scenario %s: %w", name, err)
						}
						fmt.Fprintf(tw, "%s\t%s\n", name, summary(sc.Description))
					}
					return tw.Flush()
				},
			},
			{
				Name:      "show",
				Usage:     "print a bundled scenario's YAML",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cli.Exit("dnsfault scenarios show: name one scenario (dnsfault scenarios list)", 2)
					}
					data, err := scenarios.BundledSource(c.Args().First())
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					_, err = os.Stdout.Write(data)
					return err
				},
			},
		},
	}
}

// summary is the first sentence of a description.
func summary(description string) string {
	s := strings.Join(strings.Fields(description), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
