// Command dnsfault is a chaos-engineering DNS fault injector: a real DNS
// server that answers normally except where a scenario injects faults.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args))
}

// run runs the CLI and returns the process's exit status; it is the only
// place where an error becomes an exit status.
func run(args []string) int {
	app := &cli.App{
		Name:    "dnsfault",
		Usage:   "a DNS server that injects the faults of real DNS outages, on purpose",
		Version: version,
		Commands: []*cli.Command{
			serveCommand(),
			validateCommand(),
			scenariosCommand(),
			ctlCommand(),
			runCommand(),
			depsCommand(),
			enterNamespaceCommand(),
		},
		// Errors are turned into exit statuses below, not inside the library.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	err := app.Run(flagsFirst(args, app.Commands))
	if err == nil {
		return 0
	}
	var exit cli.ExitCoder
	if errors.As(err, &exit) {
		if msg := exit.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
		return exit.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "dnsfault:", err)
	return 1
}
