package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst moves flags written after a command's arguments in front of
// them, and flags written before a subcommand after it: urfave/cli v2
// stops reading flags at the first argument, and reads a command's flags
// only after its name, while `dnsfault ctl phase outage --control ADDR`
// and `dnsfault ctl --control ADDR status` should both work, as they do
// in git, kubectl and docker. Everything after "--" is left alone.
func flagsFirst(args []string, commands []*cli.Command) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	i := 1
	var cmd *cli.Command
	var early []string // flags given before the subcommand they belong to
	for i < len(args) {
		if a := args[i]; cmd != nil && len(commands) > 0 && strings.HasPrefix(a, "-") && a != "-" && a != "--" {
			// A flag between commands: its value is the next word, unless
			// that word is the subcommand (a bool flag) or it has "=".
			early = append(early, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && find(commands, args[i+1]) == nil {
				i++
				early = append(early, args[i])
			}
			i++
			continue
		}
		next := find(commands, args[i])
		if next == nil {
			break
		}
		cmd, commands = next, next.Subcommands
		out = append(out, args[i])
		i++
	}
	if cmd == nil {
		return args
	}
	rest := append(early, args[i:]...)
	var flags, positional []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			return append(append(append(out, flags...), positional...), rest[i:]...)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd, strings.TrimLeft(a, "-")) && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(append(out, flags...), positional...)
}

func find(commands []*cli.Command, name string) *cli.Command {
	for _, c := range commands {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue tells whether the named flag of cmd is followed by a value.
func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
