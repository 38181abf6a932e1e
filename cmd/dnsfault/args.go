package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst moves flags written after a command's arguments in front of
// them: urfave/cli v2 stops reading flags at the first argument, and
// `dnsfault ctl phase outage --control ADDR` should work as written.
// Everything after "--" is left alone.
func flagsFirst(args []string, commands []*cli.Command) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	i := 1
	var cmd *cli.Command
	for i < len(args) {
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
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(append(append(out, flags...), positional...), args[i:]...)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd, strings.TrimLeft(a, "-")) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
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
