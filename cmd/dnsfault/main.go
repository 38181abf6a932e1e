// Command dnsfault is a chaos-engineering DNS fault injector: a real DNS
// server that answers normally except where a scenario injects faults.
package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector/report"
)

// version is set at build time with -ldflags "-X main.version=..."; a
// plain go build carries the commit it was built from (versionString).
var version = "dev"

// versionString is the version with the commit and its date from the
// build information Go records (go build in a git checkout), and
// "modified" when the tree had changes.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		return version
	}
	out := version + " (commit " + rev[:min(12, len(rev))]
	if t := settings["vcs.time"]; t != "" {
		out += ", " + t
	}
	if settings["vcs.modified"] == "true" {
		out += ", modified"
	}
	return out + ")"
}

func main() {
	os.Exit(run(os.Args))
}

// run runs the CLI and returns the process's exit status; it is the only
// place where an error becomes an exit status.
func run(args []string) int {
	app := &cli.App{
		Name:    "dnsfault",
		Usage:   "a DNS server that injects the faults of real DNS outages, on purpose",
		Version: versionString(),
		Commands: []*cli.Command{
			serveCommand(),
			validateCommand(),
			scenariosCommand(),
			ctlCommand(),
			runCommand(),
			depsCommand(),
			versionCommand(),
			enterNamespaceCommand(),
		},
		// Errors are turned into exit statuses below, not inside the library.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageError("dnsfault", exitUsage),
	}
	typed = args
	onUsageErrors(app.Commands, "dnsfault")
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && args[1] != "help" && find(app.Commands, args[1]) == nil {
		fmt.Fprintf(os.Stderr, "dnsfault: no command %q (dnsfault --help lists them)\n", args[1])
		return exitUsage
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

// exitUsage is the exit status of a usage error (a bad flag, a missing
// argument), as in git, kubectl and docker; run's own errors exit 125 so
// they cannot be taken for the command's.
const exitUsage = 2

// onUsageErrors makes every command's usage errors exit 2 (run's 125)
// with one line that names the command, instead of a help dump; and a
// command of commands (ctl, scenarios) says so of a name it does not
// have, as the top level does.
func onUsageErrors(cmds []*cli.Command, parent string) {
	for _, c := range cmds {
		name := parent + " " + c.Name
		code := exitUsage
		if c.Name == "run" {
			code = report.ExitCannotRun
		}
		c.OnUsageError = usageError(name, code)
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = unknownSubcommand(name)
		}
		onUsageErrors(c.Subcommands, name)
	}
}

// unknownSubcommand is the action of a command of commands: a name it
// does not have exits 2 in one line, none shows its help.
func unknownSubcommand(name string) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() == 0 {
			return cli.ShowSubcommandHelp(c)
		}
		return cli.Exit(fmt.Sprintf("%s: no command %q (%s --help lists them)", name, c.Args().First(), name), exitUsage)
	}
}

// typed is the command line as given, so a usage error quotes a flag as
// it was typed (--bogus), not as Go's flag package spells it (-bogus).
var typed []string

// goFlag finds the Go flag package's -NAME in msg and writes it as
// the user typed it.
var goFlag = regexp.MustCompile(`(flag provided but not defined: |for flag )-([^\s:]+)`)

func usageError(name string, code int) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		msg := goFlag.ReplaceAllStringFunc(err.Error(), func(m string) string {
			parts := goFlag.FindStringSubmatch(m)
			return parts[1] + asTyped(parts[2])
		})
		return cli.Exit(fmt.Sprintf("%s: %s (%s --help lists the flags)", name, msg, name), code)
	}
}

// asTyped is flag as it stands on the command line: --speed or -speed.
func asTyped(flag string) string {
	for _, a := range typed {
		if a == "--" {
			break
		}
		bare, _, _ := strings.Cut(a, "=")
		if strings.TrimLeft(bare, "-") == flag && strings.HasPrefix(bare, "-") {
			return bare
		}
	}
	return "--" + flag
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print dnsfault's version",
		Action: func(c *cli.Context) error {
			fmt.Printf("dnsfault %s\n", versionString())
			return nil
		},
	}
}
