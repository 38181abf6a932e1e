package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/urfave/cli/v2"
)

func TestFlagsFirst(t *testing.T) {
	t.Parallel()
	app := []string{"dnsfault"}
	cases := []struct{ in, want []string }{
		{[]string{"ctl", "phase", "outage", "--control", "x:1", "--json"}, []string{"ctl", "phase", "--control", "x:1", "--json", "outage"}},
		{[]string{"ctl", "load", "f.yaml", "--set=a=b", "--token", "t"}, []string{"ctl", "load", "--set=a=b", "--token", "t", "f.yaml"}},
		{[]string{"validate", "a.yaml", "-", "b.yaml"}, []string{"validate", "a.yaml", "-", "b.yaml"}},
		{[]string{"serve", "-s", "demo"}, []string{"serve", "-s", "demo"}},
		{[]string{"unknown", "x", "--y"}, []string{"unknown", "x", "--y"}},
		{[]string{"validate", "a.yaml", "--", "--set", "x"}, []string{"validate", "a.yaml", "--", "--set", "x"}},
		// Flags before the subcommand, as git, kubectl and docker take them.
		{[]string{"ctl", "--control", "x:1", "status"}, []string{"ctl", "status", "--control", "x:1"}},
		{[]string{"ctl", "--json", "--control=x:1", "status"}, []string{"ctl", "status", "--json", "--control=x:1"}},
		{[]string{"ctl", "--control", "x:1", "phase", "outage", "--json"}, []string{"ctl", "phase", "--control", "x:1", "--json", "outage"}},
	}
	for _, tc := range cases {
		got := flagsFirst(append(app, tc.in...), []*cli.Command{serveCommand(), validateCommand(), ctlCommand()})
		assert.Equal(t, append(app, tc.want...), got)
	}
}
