package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/scenarios"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check scenario files; print every error as file:line:col",
		ArgsUsage: "FILE...",
		Flags:     []cli.Flag{setFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("dnsfault validate: name at least one scenario FILE", 2)
			}
			opts, err := scenarioOptions(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			failed := 0
			for _, file := range c.Args().Slice() {
				sc, err := scenarios.Open(file, opts)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					failed++
					continue
				}
				rules := 0
				for _, p := range sc.Phases {
					rules += len(p.Rules)
				}
				fmt.Printf("%s: ok (%s: %s, %s)\n", file, sc.Name, plural(len(sc.Phases), "phase"), plural(rules, "rule"))
			}
			if failed > 0 {
				return cli.Exit(fmt.Sprintf("%d of %d scenario files have errors", failed, c.NArg()), 1)
			}
			return nil
		},
	}
}
