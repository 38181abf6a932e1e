package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/scenarios"
)

// ctlFlags are given after the subcommand: `dnsfault ctl status --control ADDR`.
func ctlFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "control", Value: control.DefaultAddr, EnvVars: []string{"DNSFAULT_CONTROL"}, Usage: "the server's control API `ADDR`ess"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"DNSFAULT_TOKEN"}, Usage: "bearer `TOKEN` of the control API"},
		&cli.BoolFlag{Name: "json", Usage: "print the server's status as JSON"},
	}, extra...)
}

func ctlCommand() *cli.Command {
	return &cli.Command{
		Name:  "ctl",
		Usage: "steer a running server: status, abort, resume, phase, load, heartbeat, add, remove, reset, rules",
		Subcommands: append([]*cli.Command{
			ctlAction("status", "show the scenario, the phase, the safety switches and the rules' hits", "",
				func(ctx context.Context, c *control.Client, _ *cli.Context) (control.Status, string, error) {
					st, err := c.Status(ctx)
					return st, "", err
				}),
			ctlAction("abort", "turn every fault off now, until resume or load", "",
				func(ctx context.Context, c *control.Client, _ *cli.Context) (control.Status, string, error) {
					st, err := c.Abort(ctx)
					return st, "aborted: every fault is off (dnsfault ctl resume turns them back on)", err
				}),
			ctlAction("resume", "turn faults back on after an abort or a missed heartbeat", "",
				func(ctx context.Context, c *control.Client, _ *cli.Context) (control.Status, string, error) {
					st, err := c.Resume(ctx)
					if err == nil && !st.FaultsActive {
						// The switches are reset, but the timeline holds
						// faults off: a script that resumes must hear it.
						return st, "", cli.Exit("dnsfault ctl resume: the abort is lifted, but faults stay off: "+st.FaultsOff+offHint(st), 1)
					}
					return st, "resumed: faults are on", err
				}),
			ctlAction("heartbeat", "tell the dead-man switch (serve --heartbeat) the operator is still there", "",
				func(ctx context.Context, c *control.Client, _ *cli.Context) (control.Status, string, error) {
					st, err := c.Heartbeat(ctx)
					return st, "heartbeat received" + left(st.HeartbeatLeftSeconds, "; the dead-man switch has %s left"), err
				}),
			ctlAction("phase", "jump to a phase: it begins now", "NAME",
				func(ctx context.Context, c *control.Client, cc *cli.Context) (control.Status, string, error) {
					if cc.NArg() != 1 {
						return control.Status{}, "", cli.Exit("dnsfault ctl phase: name one phase (dnsfault ctl status lists them)", 2)
					}
					st, err := c.Phase(ctx, cc.Args().First())
					return st, "jumped to phase " + cc.Args().First(), err
				}),
			ctlAction("load", "validate a scenario file (or a bundled scenario's name) and swap it in: its timeline starts now", "FILE|NAME",
				func(ctx context.Context, c *control.Client, cc *cli.Context) (control.Status, string, error) {
					if cc.NArg() != 1 {
						return control.Status{}, "", cli.Exit("dnsfault ctl load: name one scenario FILE", 2)
					}
					opts, err := scenarioOptions(cc)
					if err != nil {
						return control.Status{}, "", cli.Exit(err.Error(), 2)
					}
					file, data, err := scenarioSource(cc.Args().First())
					if err != nil {
						return control.Status{}, "", err
					}
					st, err := c.Load(ctx, file, data, opts.Set)
					return st, "loaded " + cc.Args().First(), err
				}, setFlag),
		}, ctlRuleCommands()...),
	}
}

type ctlFunc func(ctx context.Context, c *control.Client, cc *cli.Context) (control.Status, string, error)

func ctlAction(name, usage, args string, do ctlFunc, extra ...cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: args,
		Flags:     ctlFlags(extra...),
		Action: func(cc *cli.Context) error {
			ctx, cancel := context.WithTimeout(cc.Context, 15*time.Second)
			defer cancel()
			client := control.NewClient(cc.String("control"), cc.String("token"))
			st, done, err := do(ctx, client, cc)
			if err != nil {
				if _, ok := err.(cli.ExitCoder); ok {
					return err
				}
				return cli.Exit("dnsfault ctl "+name+": "+err.Error(), 1)
			}
			if cc.Bool("json") {
				return printJSON(st)
			}
			if done != "" {
				fmt.Println(done)
			}
			printStatus(os.Stdout, st)
			return nil
		},
	}
}

// scenarioSource reads a scenario file, or the YAML of a bundled scenario
// when no such file exists, and the name to give it in errors.
func scenarioSource(nameOrPath string) (string, []byte, error) {
	data, err := os.ReadFile(nameOrPath)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nameOrPath, data, err
	}
	if data, berr := scenarios.BundledSource(nameOrPath); berr == nil {
		return "bundled:" + nameOrPath + ".yaml", data, nil
	}
	return "", nil, fmt.Errorf("%w, and no bundled scenario is named %q (dnsfault scenarios list)", err, nameOrPath)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printStatus writes a status for people: state first, then the phases.
func printStatus(w io.Writer, st control.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ttls := "TTLs as written"
	if st.TTLScale > 1 {
		ttls = fmt.Sprintf("TTLs divided by %g", st.TTLScale)
	}
	fmt.Fprintf(tw, "scenario\t%s (seed %d, speed %gx, %s)\n", st.Scenario, st.Seed, st.Speed, ttls)
	fmt.Fprintf(tw, "dns\t%s\n", st.Listen)
	fmt.Fprintf(tw, "forwarding\t%s\n", st.Upstream)
	if len(st.Zones) > 0 {
		fmt.Fprintf(tw, "zones\t%s\n", strings.Join(st.Zones, " "))
	}
	if len(st.Signed) > 0 {
		fmt.Fprintf(tw, "signed\t%s\n", strings.Join(st.Signed, ", "))
	}
	if st.DNSSECAnchors != "" {
		fmt.Fprintf(tw, "trust anchors\t%s\n", st.DNSSECAnchors)
	}
	if len(st.Allow) > 0 {
		fmt.Fprintf(tw, "answering\tonly %s\n", strings.Join(st.Allow, " "))
	}
	if st.Record != "" {
		if st.RecordError != "" {
			fmt.Fprintf(tw, "recording\tFAILING into %s: the last write failed (%s); the file keeps the last recording written whole\n", st.Record, st.RecordError)
		} else {
			fmt.Fprintf(tw, "recording\tinto %s\n", st.Record)
		}
	}
	if st.QueryLog != "" {
		fmt.Fprintf(tw, "query log\t%s\n", st.QueryLog)
	}
	if st.FaultsActive {
		fmt.Fprintf(tw, "faults\tON in phase %s (%d of %d)%s\n", st.Phase, st.PhaseIndex+1, len(st.Phases), left(st.PhaseLeftSeconds, ", %s left"))
	} else {
		fmt.Fprintf(tw, "faults\tOFF: %s%s\n", st.FaultsOff, offHint(st))
	}
	var safety []string
	if st.MaxDurationLeftSeconds != nil {
		safety = append(safety, "max-duration"+left(st.MaxDurationLeftSeconds, " %s left"))
	}
	if st.HeartbeatLeftSeconds != nil {
		safety = append(safety, "heartbeat"+left(st.HeartbeatLeftSeconds, " %s left"))
	}
	if len(safety) > 0 {
		fmt.Fprintf(tw, "safety\t%s\n", strings.Join(safety, "; "))
	}
	fmt.Fprintf(tw, "in flight\t%d queries\n", st.InFlight)
	if st.QueryLogErrors > 0 {
		fmt.Fprintf(tw, "query log\tLOSING LINES: %d not written (%s)\n", st.QueryLogErrors, st.QueryLogError)
	}
	if st.Panics > 0 {
		fmt.Fprintf(tw, "panics\t%d queries answered SERVFAIL after a bug; please report it\n", st.Panics)
	}
	if r := st.LastReload; r != nil {
		if r.OK {
			fmt.Fprintf(tw, "last load\tok at %s from %s\n", r.Time.Format(time.TimeOnly), r.Origin)
		} else {
			fmt.Fprintf(tw, "last load\tFAILED at %s from %s; the running scenario keeps serving:\n", r.Time.Format(time.TimeOnly), r.Origin)
			for _, e := range r.Errors {
				fmt.Fprintf(tw, "\t  %s\n", e)
			}
		}
	}
	fmt.Fprintln(tw)
	if len(st.AdHoc) > 0 {
		fmt.Fprintln(tw, "\tAD-HOC RULE\tLEFT\tSEEN\tMATCHED\tINJECTED\tDOES")
		for _, r := range st.AdHoc {
			fmt.Fprintf(tw, "\t%s\t%s\t%d\t%d\t%s\t%s\n", r.Name, adHocLeft(r), r.Seen, r.Matched, injected(r.RuleStatus), r.Summary)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "\tPHASE\tDURATION\tRULE\tACTION\tSEEN\tMATCHED\tINJECTED")
	for i, p := range st.Phases {
		marker := ""
		if st.Timeline == "running" && i == st.PhaseIndex {
			marker = "→"
		}
		duration := "until the end"
		if p.DurationSeconds > 0 {
			duration = (time.Duration(p.DurationSeconds * float64(time.Second))).String()
		}
		if len(p.Rules) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t-\n", marker, p.Name, duration)
		}
		for j, r := range p.Rules {
			name, dur := p.Name, duration
			if j > 0 {
				name, dur = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", marker, name, dur, r.Name, r.Action, r.Seen, r.Matched, injected(r))
			marker = ""
		}
	}
	tw.Flush()
}

func left(seconds *float64, format string) string {
	if seconds == nil {
		return ""
	}
	return fmt.Sprintf(format, (time.Duration(*seconds * float64(time.Second))).Round(time.Second))
}

func offHint(st control.Status) string {
	switch st.FaultsOff {
	case "aborted", "heartbeat missed":
		return " (dnsfault ctl resume turns them back on)"
	case "timeline not started":
		return left(st.StartsInSeconds, " (it starts in %s)")
	case "timeline ended":
		return " (dnsfault ctl phase NAME replays a phase; ctl add serves an ad-hoc fault)"
	}
	return ""
}

// injected is a rule's injections, with their types when there are
// several: "12 (A 8, AAAA 4)".
func injected(r control.RuleStatus) string {
	out := strconv.FormatUint(r.Hits, 10)
	if len(r.InjectedByType) < 2 {
		return out
	}
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(r.InjectedByType)) {
		parts = append(parts, fmt.Sprintf("%s %d", t, r.InjectedByType[t]))
	}
	return out + " (" + strings.Join(parts, ", ") + ")"
}
