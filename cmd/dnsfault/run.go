package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/probe"
	"github.com/dnsfault/dnsfault/injector/record"
	"github.com/dnsfault/dnsfault/injector/report"
	"github.com/dnsfault/dnsfault/injector/safefile"
	"github.com/dnsfault/dnsfault/scenarios"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command with the scenario's faults in force, and fail when it or its DNS behaviour fails",
		ArgsUsage: "-- COMMAND [ARGS...]",
		Description: "Starts dnsfault, exports DNSFAULT_ADDR, DNSFAULT_HOST, DNSFAULT_PORT, DNSFAULT_CONTROL and DNSFAULT_EVENTS\n" +
			"to COMMAND, runs it, and exits with its status; or, when it passed, with 120 when a client\n" +
			"broke an expectation of the scenario, 121 when a rule never fired; 125 when dnsfault itself\n" +
			"could not run.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "scenario", Aliases: []string{"s"}, Usage: "scenario `FILE` or bundled name (required)"},
			&cli.StringSliceFlag{Name: "listen", Value: cli.NewStringSlice("127.0.0.1:0"), DefaultText: "a free port of 127.0.0.1", Usage: "UDP and TCP `ADDR`ess; tls://ADDR adds DNS over TLS, https://ADDR/PATH DNS over HTTPS (repeatable)"},
			&cli.StringFlag{Name: "control", Value: "127.0.0.1:0", DefaultText: "a free port of 127.0.0.1", Usage: "control API `ADDR`ess"},
			&cli.StringFlag{Name: "report", Usage: "write the report as JSON to `FILE`"},
			&cli.StringFlag{Name: "junit", Usage: "write the report as JUnit XML to `FILE`"},
			&cli.StringFlag{Name: "journal", Usage: "write a Chaos Toolkit journal of the run to `FILE` (chaos report reads it)"},
			&cli.BoolFlag{Name: "allow-unexercised", Usage: "report rules that never fired, but do not fail for them (for scenarios with rules for names this command does not use)"},
			&cli.StringSliceFlag{Name: "expect", Usage: "judge the run by `KEY=VALUE` over the scenario's expect: (max_recovery=2m, min_availability=0.5, max_peak_amplification=10, ...; repeatable). Without any, the scenario's; without those, dnsfault's defaults"},
			&cli.IntFlag{Name: "recovery-run", Value: report.DefaultRecoveryRun, Usage: "how many successful calls of the service in a row (probes, DNSFAULT_EVENTS) count as recovered"},
			&cli.StringFlag{Name: "start-when", Value: "now", Usage: "when the timeline begins: `now`, first-query (at the client's first DNS query, so a slow start does not eat the first phase) or probe (at the first successful --probe)"},
			&cli.BoolFlag{Name: "resolv-conf", Usage: "Linux, root: run COMMAND with an /etc/resolv.conf naming dnsfault (on port 53 of a loopback address of its own)"},
		}, serverFlags()...),
		Action: runAction,
	}
}

// cannotRun is the error of every way dnsfault itself fails in `run`.
func cannotRun(format string, args ...any) error {
	return cli.Exit("dnsfault run: "+fmt.Sprintf(format, args...), report.ExitCannotRun)
}

// runSession is one `run`: the steps of runAction and what they share.
// Each step returns the error that ends the run; what it started is
// stopped by the deferred cleanups in runAction, last first.
type runSession struct {
	c          *cli.Context
	command    []string
	cfg        injector.Config
	sc         *scenarios.Scenario
	resolvConf bool
	cleanups   []func()

	collector    *report.Collector
	recorder     *record.Recorder
	stopAutosave func()
	srv          *injector.Server
	api          *control.Server
	caFile       string
	started      time.Time
}

// onExit adds f to what runAction undoes when it returns.
func (r *runSession) onExit(f func()) { r.cleanups = append(r.cleanups, f) }

func runAction(c *cli.Context) error {
	r := &runSession{c: c, command: c.Args().Slice(), stopAutosave: func() {}}
	defer func() {
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
	}()
	if err := r.prepare(); err != nil {
		return err
	}
	if err := r.start(); err != nil {
		return err
	}
	exitCode, ended, err := r.runCommand()
	if err != nil {
		return err
	}
	return r.conclude(exitCode, ended)
}

// prepare reads the flags and the scenario, and checks every output path,
// before anything starts.
func (r *runSession) prepare() error {
	c := r.c
	if c.String("scenario") == "" {
		return cannotRun("give the scenario to replay: -s FILE, or a bundled name (dnsfault scenarios list)")
	}
	if len(r.command) == 0 {
		return cannotRun("give the command to run after --, such as: dnsfault run -s demo -- ./integration-tests.sh")
	}
	opts, err := scenarioOptions(c)
	if err != nil {
		return cannotRun("%v", err)
	}
	if r.cfg, err = serverConfig(c); err != nil {
		return cannotRun("%v", err)
	}
	r.cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch c.String("start-when") {
	case "now":
	case "first-query":
		r.cfg.StartOnFirstQuery = true
	case "probe":
		r.cfg.HoldTimeline = true
	default:
		return cannotRun("--start-when %q: want now, first-query or probe", c.String("start-when"))
	}
	if r.resolvConf = c.Bool("resolv-conf"); r.resolvConf {
		if err := canRewriteResolvConf(); err != nil {
			return cannotRun("--resolv-conf: %v", err)
		}
		if c.IsSet("listen") {
			return cannotRun("--resolv-conf listens on port 53 of a loopback address of its own; leave out --listen")
		}
	}
	if err := control.CheckExposure(c.String("control"), c.String("token")); err != nil {
		return cannotRun("%v", err)
	}
	if r.sc, err = loadScenario(c.String("scenario"), opts); err != nil {
		return cannotRun("%v", err)
	}
	if r.sc, err = scenarios.WithExpect(r.sc, c.StringSlice("expect")); err != nil {
		return cannotRun("%v", err)
	}
	warning, err := checkSpeed(r.sc, r.cfg.Speed)
	if err != nil {
		return cannotRun("%v", err)
	}
	if warning != "" {
		r.cfg.Logger.Warn(warning)
	}
	if path := c.String("log-queries"); path != "" {
		r.cfg.QueryLogPath = path
		w, closeLog, err := openLog(path)
		if err != nil {
			return cannotRun("--log-queries: %v", err)
		}
		r.onExit(closeLog)
		r.cfg.QueryLog = w
	}
	if r.cfg.Dnstap, err = openDnstap(c); err != nil {
		return cannotRun("%v", err)
	}
	if tap := r.cfg.Dnstap; tap != nil {
		r.onExit(tap.Close) // after the server, which stops first
	}
	for _, out := range []string{"record", "report", "junit", "journal", "dnssec-anchors"} {
		// Checked now, not found out after the tests ran.
		if path := c.String(out); path != "" {
			if err := safefile.CheckWritable(path); err != nil {
				return cannotRun("--%s: %v", out, err)
			}
		}
	}
	return nil
}

// start starts the server (on the first free address, with
// --resolv-conf), the control API and the autosave of --record, and
// says where they are.
func (r *runSession) start() error {
	c, cfg := r.c, &r.cfg
	if c.String("record") != "" {
		r.recorder = record.New()
		cfg.RecordPath = c.String("record")
	}
	cfg.Observe = func(ev *injector.Event) {
		r.collector.Observe(ev)
		if r.recorder != nil {
			r.recorder.Observe(ev)
		}
	}
	cfg.OnTimelineStart = func(tl scenarios.Timeline) { r.collector.Restart(tl) }
	addrs := []string{cfg.Listen}
	if r.resolvConf {
		addrs = resolvConfAddrs(20)
	}
	var err error
	for _, listen := range addrs {
		cfg.Listen = listen
		if r.srv, err = injector.New(*cfg, r.sc); err != nil {
			return cannotRun("%v", err)
		}
		r.collector = report.NewCollector(r.sc, r.srv.Timeline())
		if err = r.srv.Start(); !errors.Is(err, syscall.EADDRINUSE) {
			break // started, or failed for a reason another address will not mend
		}
		r.srv.Shutdown(context.Background())
	}
	if err != nil {
		return cannotRun("%v", err)
	}
	srv := r.srv
	r.onExit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		srv.Shutdown(ctx)
	})
	if r.api, err = control.Listen(c.String("control"), srv, c.String("token"), cfg.Logger, c.StringSlice("control-host")...); err != nil {
		return cannotRun("%v", err)
	}
	api := r.api
	r.onExit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		api.Shutdown(ctx)
	})
	r.started = time.Now()
	if r.recorder != nil {
		r.stopAutosave = autosave(c, r.recorder, c.String("record"), srv, cfg.Logger)
	}
	r.onExit(func() { r.stopAutosave() })
	fmt.Fprintf(os.Stderr, "dnsfault run: scenario %q on %s, control API on http://%s, seed %d%s\n", r.sc.Name, srv.Addr(), api.Addr(), srv.Seed(), startNote(*cfg))
	fmt.Fprintf(os.Stderr, "dnsfault run: %s\n", configLine(srv.Status()))
	caFile, removeCA, err := announceEncrypted(c, srv, "dnsfault run")
	r.onExit(removeCA)
	if err != nil {
		return cannotRun("%v", err)
	}
	r.caFile = caFile
	return nil
}

// runCommand runs the command with the probes and the events file, and
// returns its exit status and when it ended. The server and the control
// API are stopped once it has.
func (r *runSession) runCommand() (exitCode int, ended time.Time, err error) {
	c, cfg, srv := r.c, &r.cfg, r.srv
	nameserver := ""
	if r.resolvConf {
		nameserver, _, _ = net.SplitHostPort(srv.Addr())
	}
	eventsDir, err := os.MkdirTemp("", "dnsfault-events-")
	if err != nil {
		return 0, time.Time{}, cannotRun("%v", err)
	}
	r.onExit(func() { os.RemoveAll(eventsDir) })
	eventsPath := filepath.Join(eventsDir, "events.jsonl")
	stopEvents, err := watchEvents(eventsPath, r.collector.Call)
	if err != nil {
		return 0, time.Time{}, cannotRun("DNSFAULT_EVENTS: %v", err)
	}
	eventsStopped := false
	r.onExit(func() {
		if !eventsStopped {
			stopEvents(time.Now())
		}
	})
	var probed atomic.Bool // a probe succeeded, and so the held timeline began
	var lastProbeErr atomic.Pointer[string]
	// Probes ask from an address of their own, which the report leaves
	// out of the clients' figures.
	probeFrom := probe.Source(srv.Addr())
	r.collector.ExcludeClient(probeFrom)
	prober, err := startProbes(c, r.sc, srv, probeFrom, func(res probe.Result) {
		if res.OK && cfg.HoldTimeline && !probed.Swap(true) {
			srv.StartTimeline("the first successful probe")
		}
		if !res.OK {
			lastProbeErr.Store(&res.Error)
		}
		r.collector.Call(report.Call{Start: res.Time.Add(-res.Latency), Time: res.Time, OK: res.OK, Latency: res.Latency, Error: res.Error, Probe: res.Probe})
	})
	if err != nil {
		return 0, time.Time{}, cannotRun("%v", err)
	}
	if cfg.HoldTimeline && prober == nil {
		return 0, time.Time{}, cannotRun("--start-when probe needs a probe: --probe URL, or probes: in the scenario")
	}
	exitCode, err = runChild(r.command, r.childEnv(eventsPath), nameserver)
	ended = time.Now()
	if prober != nil {
		prober.Stop()
	}
	eventsStopped = true
	if unread := stopEvents(ended); unread != "" {
		fmt.Fprintln(os.Stderr, "dnsfault run: "+unread)
	}
	switch {
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		// As docker run and env say it: 127, the command was not found.
		return 0, ended, cli.Exit("dnsfault run: "+err.Error(), exitNotFound)
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOEXEC):
		return 0, ended, cli.Exit("dnsfault run: "+err.Error(), exitCannotExecute)
	case err != nil:
		return 0, ended, cannotRun("%v", err)
	}
	if cfg.HoldTimeline && !probed.Load() {
		why := "it never answered"
		if e := lastProbeErr.Load(); e != nil {
			why = "the last try: " + *e
		}
		return 0, ended, cannotRun("--start-when probe: no probe ever succeeded (%s), so the timeline never began and nothing was tested; no report is written", why)
	}
	return exitCode, ended, nil
}

// The exit statuses of a command that could not start, as docker run,
// env and the shells give them.
const (
	exitCannotExecute = 126 // found, but not executable
	exitNotFound      = 127 // no such command
)

// childEnv is the command's environment: ours, where dnsfault's
// listeners are, the CA to trust, the anchors, and the events file.
func (r *runSession) childEnv(eventsPath string) []string {
	env := append(childEnv(r.srv.Addr(), r.api.Addr()), "DNSFAULT_EVENTS="+eventsPath)
	if a := r.srv.DoTAddr(); a != "" {
		env = append(env, "DNSFAULT_DOT_ADDR="+a)
	}
	if u := r.srv.DoHURL(); u != "" {
		env = append(env, "DNSFAULT_DOH_URL="+u)
	}
	if r.caFile != "" {
		env = append(env, "DNSFAULT_TLS_CA="+r.caFile)
	}
	if r.cfg.DNSSECAnchors != "" {
		env = append(env, "DNSFAULT_DNSSEC_ANCHORS="+r.cfg.DNSSECAnchors)
	}
	return env
}

// conclude stops the server, then writes the report, the JUnit file and
// the recording, and exits as the verdict says.
func (r *runSession) conclude(exitCode int, ended time.Time) error {
	c := r.c
	// The server's last answers are in before the report is made.
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
	rep := r.collector.Report(report.Run{Seed: r.srv.Seed(), Speed: r.cfg.Speed, TTLScale: r.cfg.TTLScale(), StartWhen: c.String("start-when"), RecoveryRun: c.Int("recovery-run"),
		Command: r.command, CommandExitCode: exitCode, Started: r.started, Ended: ended, AllowUnexercised: c.Bool("allow-unexercised"),
		RuleCounts: ruleCounts(r.srv.Status())})
	fmt.Fprintln(os.Stderr)
	rep.WriteText(os.Stderr)
	if err := writeReports(rep, c.String("report"), c.String("junit")); err != nil {
		return cannotRun("%v", err)
	}
	if path := c.String("journal"); path != "" {
		if err := safefile.Write(path, rep.Journal(r.sc, versionString()).WriteJSON); err != nil {
			return cannotRun("--journal: %v", err)
		}
	}
	if r.recorder != nil {
		if err := r.recorder.WriteFile(c.String("record"), ended); err != nil {
			return cannotRun("--record: %v", err)
		}
	}
	if rep.ExitCode != 0 {
		return cli.Exit("", rep.ExitCode)
	}
	return nil
}

// childEnv is the command's environment: ours, and where dnsfault is.
func childEnv(dnsAddr, controlAddr string) []string {
	host, port, _ := net.SplitHostPort(dnsAddr)
	return append(os.Environ(),
		"DNSFAULT_ADDR="+dnsAddr,
		"DNSFAULT_HOST="+host,
		"DNSFAULT_PORT="+port,
		"DNSFAULT_CONTROL="+controlAddr,
	)
}

// runChild runs the command in its own process group, passes SIGINT and
// SIGTERM on to the group, and kills whatever the command left behind in
// it, so no orphan outlives the run. It returns the command's exit status
// (128+N when signal N ended it).
// runChild runs the command; with a nameserver, in a mount namespace whose
// /etc/resolv.conf names it (--resolv-conf).
func runChild(command, env []string, nameserver string) (int, error) {
	cmd, cleanup, err := childCommand(command, nameserver)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", command[0], err)
	}
	group := -cmd.Process.Pid
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-signals:
				syscall.Kill(group, sig.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	syscall.Kill(group, syscall.SIGKILL) // what the command left behind

	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	default:
		return 0, err
	}
}

// writeReports writes --report and --junit, each whole or not at all.
func writeReports(r *report.Report, jsonPath, junitPath string) error {
	if jsonPath != "" {
		if err := safefile.Write(jsonPath, r.WriteJSON); err != nil {
			return err
		}
	}
	if junitPath != "" {
		return safefile.Write(junitPath, r.WriteJUnit)
	}
	return nil
}

// startNote says, for the banner, when the timeline begins.
func startNote(cfg injector.Config) string {
	if cfg.StartOnFirstQuery {
		return ", timeline held for the first query"
	}
	return ""
}

// ruleCounts are the server's counters of each rule, for the report.
func ruleCounts(st control.Status) map[report.RuleKey]report.RuleCount {
	out := map[report.RuleKey]report.RuleCount{}
	for _, ph := range st.Phases {
		for _, r := range ph.Rules {
			out[report.RuleKey{Phase: ph.Name, Rule: r.Name}] = report.RuleCount{Seen: r.Seen, Matched: r.Matched}
		}
	}
	return out
}
