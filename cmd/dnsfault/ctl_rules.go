package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The ad-hoc rule commands: add, remove, reset and rules, as
// `toxiproxy-cli toxic add/remove` and `reset` are.

func ctlRuleCommands() []*cli.Command {
	return []*cli.Command{
		ctlAction("add", "add an ad-hoc fault now, in front of the scenario's rules", "NAME",
			func(ctx context.Context, c *control.Client, cc *cli.Context) (control.Status, string, error) {
				if cc.NArg() != 1 {
					return control.Status{}, "", cli.Exit("dnsfault ctl add: name the rule (dnsfault ctl add NAME --names N --action A)", 2)
				}
				body, flagAt, err := adHocRule(cc)
				if err != nil {
					return control.Status{}, "", cli.Exit("dnsfault ctl add: "+err.Error(), 2)
				}
				st, err := c.AddRule(ctx, body)
				if le, ok := err.(*control.LoadError); ok {
					return st, "", fmt.Errorf("%s:\n%s", le.What, strings.Join(byFlag(le.Errors, flagAt), "\n"))
				}
				done := "added " + cc.Args().First()
				if d := cc.Duration("for"); d > 0 {
					done += fmt.Sprintf(" for %v", d)
				}
				return st, done, err
			}, addFlags()...),
		ctlAction("remove", "remove an ad-hoc fault", "NAME",
			func(ctx context.Context, c *control.Client, cc *cli.Context) (control.Status, string, error) {
				if cc.NArg() != 1 {
					return control.Status{}, "", cli.Exit("dnsfault ctl remove: name one ad-hoc rule (dnsfault ctl rules lists them)", 2)
				}
				st, err := c.RemoveRule(ctx, cc.Args().First())
				return st, "removed " + cc.Args().First(), err
			}),
		ctlAction("reset", "remove every ad-hoc fault: the scenario serves as loaded", "",
			func(ctx context.Context, c *control.Client, _ *cli.Context) (control.Status, string, error) {
				st, err := c.Reset(ctx)
				return st, "reset: every ad-hoc rule removed", err
			}),
		{
			Name:  "rules",
			Usage: "list the rules in force now: the ad-hoc ones, then the phase's",
			Flags: ctlFlags(),
			Action: func(cc *cli.Context) error {
				ctx, cancel := context.WithTimeout(cc.Context, 15*time.Second)
				defer cancel()
				st, err := control.NewClient(cc.String("control"), cc.String("token")).Status(ctx)
				if err != nil {
					return cli.Exit("dnsfault ctl rules: "+err.Error(), 1)
				}
				if cc.Bool("json") {
					return printJSON(st)
				}
				printRules(cc.App.Writer, st)
				return nil
			},
		},
	}
}

func addFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "names", Usage: "the `NAME`s it takes: example.com, *.example.com, dynamodb.*.amazonaws.com, ~regexp (comma-separated or repeated)"},
		&cli.BoolFlag{Name: "all-names", Usage: "take every name (instead of --names)"},
		&cli.StringFlag{Name: "action", Usage: "what it does: `ACTION` (servfail, nxdomain, empty, drop, delay with pass, ...; docs/scenarios.md)"},
		&cli.StringSliceFlag{Name: "types", Usage: "only these query `TYPE`s (A, AAAA, ...)"},
		&cli.StringSliceFlag{Name: "clients", Usage: "only clients in `CIDR`"},
		&cli.StringSliceFlag{Name: "transport", Usage: "only over `TRANSPORT`: udp, tcp, dot or doh (comma-separated or repeated)"},
		&cli.DurationFlag{Name: "for", Usage: "remove it after `D` (0: until ctl remove or ctl reset)"},
		&cli.StringFlag{Name: "probability", Usage: "share of the matching queries it takes, 0 to 1 (default 1)"},
		&cli.DurationFlag{Name: "delay", Usage: "wait `D` before the action"},
		&cli.StringFlag{Name: "ttl", Usage: "rewrite the TTLs of its answers to `SECONDS`"},
		&cli.StringSliceFlag{Name: "record", Usage: "a `RECORD` of an answer rule, such as \"@ 60 IN A 192.0.2.1\" (repeatable)"},
		&cli.StringFlag{Name: "status", Usage: "the HTTP `STATUS` of an http-status rule (DoH), such as 503"},
		&cli.DurationFlag{Name: "retry-after", Usage: "the Retry-After of an http-status rule"},
		&cli.StringFlag{Name: "tls", Usage: "how a tls-fail rule fails the handshake: close, wrong-name or slow (with --delay)"},
	}
}

// adHocRule writes ctl add's flags as one rule in scenario syntax, one key
// a line, and returns which flag each line came from, so the server's
// positioned errors can name the flag.
func adHocRule(cc *cli.Context) (body []byte, flagAt map[int]string, err error) {
	if cc.String("action") == "" {
		return nil, nil, fmt.Errorf("give --action (servfail, nxdomain, empty, drop, ...)")
	}
	// A rule of every name is a big fault to get by leaving a flag out:
	// it is asked for by name (a handshake has none to give).
	if !cc.IsSet("names") && !cc.Bool("all-names") && cc.String("action") != string(scenarios.TLSFail) {
		return nil, nil, fmt.Errorf("give --names, or --all-names to fault every name")
	}
	if cc.IsSet("names") && cc.Bool("all-names") {
		return nil, nil, fmt.Errorf("give --names or --all-names, not both")
	}
	var b strings.Builder
	flagAt = map[int]string{}
	line := func(flag, text string) {
		b.WriteString(text + "\n")
		flagAt[strings.Count(b.String(), "\n")] = flag
	}
	list := func(values []string) string {
		var quoted []string
		for _, v := range values {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					quoted = append(quoted, strconv.Quote(part))
				}
			}
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	line("NAME", "name: "+strconv.Quote(cc.Args().First()))
	line("--action", "action: "+strconv.Quote(cc.String("action")))
	if cc.IsSet("names") || cc.IsSet("types") || cc.IsSet("clients") || cc.IsSet("transport") {
		line("", "match:")
		if v := cc.StringSlice("names"); len(v) > 0 {
			line("--names", "  names: "+list(v))
		}
		if v := cc.StringSlice("types"); len(v) > 0 {
			line("--types", "  types: "+list(v))
		}
		if v := cc.StringSlice("clients"); len(v) > 0 {
			line("--clients", "  clients: "+list(v))
		}
		if v := cc.StringSlice("transport"); len(v) > 0 {
			line("--transport", "  transport: "+list(v))
		}
	}
	if cc.IsSet("for") {
		line("--for", "for: "+strconv.Quote(cc.Duration("for").String()))
	}
	if v := cc.String("probability"); v != "" {
		line("--probability", "probability: "+strconv.Quote(v))
	}
	if cc.IsSet("delay") {
		line("--delay", "delay: "+strconv.Quote(cc.Duration("delay").String()))
	}
	if v := cc.String("ttl"); v != "" {
		line("--ttl", "ttl: "+strconv.Quote(v))
	}
	if v := cc.String("status"); v != "" {
		line("--status", "status: "+strconv.Quote(v))
	}
	if cc.IsSet("retry-after") {
		line("--retry-after", "retry_after: "+strconv.Quote(cc.Duration("retry-after").String()))
	}
	if v := cc.String("tls"); v != "" {
		line("--tls", "tls: "+strconv.Quote(v))
	}
	if v := cc.StringSlice("record"); len(v) > 0 {
		var quoted []string
		for _, r := range v {
			quoted = append(quoted, strconv.Quote(r))
		}
		line("--record", "records: ["+strings.Join(quoted, ", ")+"]")
	}
	return []byte(b.String()), flagAt, nil
}

var rulePosition = regexp.MustCompile(`^rule:(\d+):\d+: `)

// byFlag rewrites errors positioned in the rule ctl add wrote ("rule:3:9:
// ...") to name the flag the line came from.
func byFlag(errs []string, flagAt map[int]string) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e
		if m := rulePosition.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			if flag := flagAt[line]; flag != "" {
				out[i] = flag + ": " + e[len(m[0]):]
			}
		}
	}
	return out
}

// printRules lists the ad-hoc rules, then the rules of the phase in force.
func printRules(w io.Writer, st control.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tFROM\tHITS\tLEFT\tDOES")
	for _, r := range st.AdHoc {
		fmt.Fprintf(tw, "%s\tad-hoc\t%d\t%s\t%s\n", r.Name, r.Hits, adHocLeft(r), r.Summary)
	}
	if st.FaultsActive && st.PhaseIndex < len(st.Phases) {
		for _, r := range st.Phases[st.PhaseIndex].Rules {
			fmt.Fprintf(tw, "%s\tphase %s\t%d\t-\t%s\n", r.Name, st.Phase, r.Hits, r.Action)
		}
	}
	tw.Flush()
	if !st.FaultsActive {
		fmt.Fprintf(w, "faults are off (%s)%s\n", st.FaultsOff, adHocNote(st))
	}
}

func adHocNote(st control.Status) string {
	if len(st.AdHoc) > 0 && st.FaultsOff != "aborted" && st.FaultsOff != "heartbeat missed" && st.FaultsOff != "max-duration reached" {
		return ": the ad-hoc rules above still serve"
	}
	return ""
}

// adHocLeft is how long an ad-hoc rule has left, in words.
func adHocLeft(r control.AdHocRule) string {
	if r.LeftSeconds == nil {
		return "until removed"
	}
	return left(r.LeftSeconds, "%s")
}
