package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/dnstap"
	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/record"
	"github.com/dnsfault/dnsfault/injector/reload"
	"github.com/dnsfault/dnsfault/injector/safefile"
	"github.com/dnsfault/dnsfault/scenarios"
)

// shutdownGrace is how long in-flight queries get to finish on SIGINT/SIGTERM.
const shutdownGrace = 5 * time.Second

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "answer DNS on --listen, injecting the scenario's faults",
		Description: "With no scenario, dnsfault is a plain forwarding resolver with the control API up,\n" +
			"ready for `dnsfault ctl load`. SCENARIO is a file or the name of a bundled scenario\n" +
			"(dnsfault scenarios list); a file is reloaded when it changes.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "scenario", Aliases: []string{"s"}, Usage: "scenario `FILE` or bundled name"},
			&cli.StringSliceFlag{Name: "listen", Value: cli.NewStringSlice(injector.DefaultListen), Usage: "UDP and TCP `ADDR`ess (port 0 picks a free one); tls://ADDR adds DNS over TLS, https://ADDR/PATH DNS over HTTPS (repeatable)"},
			&cli.StringSliceFlag{Name: "allow", Usage: "answer only clients in `CIDR` (required when --listen is not loopback)"},
			&cli.StringFlag{Name: "control", Value: control.DefaultAddr, Usage: "control API `ADDR`ess (HTTP)"},
			&cli.DurationFlag{Name: "heartbeat", DefaultText: "off", Usage: "dead-man switch: turn faults off when no heartbeat (ctl heartbeat) arrives for `D`"},
			// For `make bench` and whoever tunes the server: a pprof CPU
			// profile of the whole run, written at shutdown.
			&cli.StringFlag{Name: "cpu-profile", Hidden: true, Usage: "write a CPU profile to `FILE`"},
		}, serverFlags()...),
		Action: serve,
	}
}

func serve(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("dnsfault serve: unexpected argument %q (the scenario is given with -s)", c.Args().First()), 2)
	}
	opts, err := scenarioOptions(c)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	cfg, err := serverConfig(c)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	controlAddr, token := c.String("control"), c.String("token")
	if err := control.CheckExposure(controlAddr, token); err != nil {
		return cli.Exit(err.Error(), 2)
	}
	sc, err := loadScenario(c.String("scenario"), opts)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	warning, err := checkSpeed(sc, cfg.Speed)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if path := c.String("log-queries"); path != "" {
		cfg.QueryLogPath = path
		w, closeLog, err := openLog(path)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--log-queries: %v", err), 2)
		}
		defer closeLog()
		cfg.QueryLog = w
	}
	if path := cfg.DNSSECAnchors; path != "" {
		if err := safefile.CheckWritable(path); err != nil {
			return cli.Exit(fmt.Sprintf("--dnssec-anchors: %v", err), 2)
		}
	}
	if cfg.Dnstap, err = openDnstap(c); err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if cfg.Dnstap != nil {
		defer cfg.Dnstap.Close() // after the server's last answer
	}
	var recorder *record.Recorder
	recordPath := c.String("record")
	if recordPath != "" {
		// Checked now, not found out at exit after a whole drill.
		if err := safefile.CheckWritable(recordPath); err != nil {
			return cli.Exit(fmt.Sprintf("--record: %v", err), 2)
		}
		recorder = record.New()
		cfg.Observe = recorder.Observe
		cfg.RecordPath = recordPath
	}
	srv, err := injector.New(cfg, sc)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if path := c.String("cpu-profile"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--cpu-profile: %v", err), 2)
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The control API first: when its port is taken, nothing has said
	// "serving" yet.
	api, err := control.Listen(controlAddr, srv, token, cfg.Logger, c.StringSlice("control-host")...)
	if err != nil {
		srv.Shutdown(context.Background())
		return cli.Exit(err.Error(), 1)
	}
	if err := srv.Start(); err != nil {
		api.Shutdown(context.Background())
		srv.Shutdown(context.Background())
		return cli.Exit(err.Error(), 1)
	}
	if file := c.String("scenario"); file != "" && isFile(file) {
		err := reload.Watch(ctx, file, func() {
			next, err := scenarios.Load(file, opts)
			if err != nil {
				srv.ReloadFailed(file, err)
				return
			}
			if !slices.Equal(next.Probes, sc.Probes) {
				cfg.Logger.Warn("the scenario's probes changed; they take effect at the next start", "file", file)
			}
			srv.Load(next, file, false)
		})
		if err != nil {
			cfg.Logger.Warn("hot reload is off", "err", err)
		}
	}
	serving := fmt.Sprintf("serving %q", sc.Name)
	if c.String("scenario") == "" {
		serving = "serving no scenario (no faults until one is loaded: ctl load)"
	}
	fmt.Fprintf(os.Stderr, "dnsfault: %s on %s (udp and tcp), control API on http://%s, seed %d\n", serving, srv.Addr(), listen.Display(api.Addr()), srv.Seed())
	fmt.Fprintf(os.Stderr, "dnsfault: %s\n", configLine(srv.Status()))
	_, removeCA, err := announceEncrypted(c, srv, "dnsfault")
	defer removeCA()
	if err != nil {
		api.Shutdown(context.Background())
		srv.Shutdown(context.Background())
		return cli.Exit(err.Error(), 1)
	}
	if warning != "" {
		cfg.Logger.Warn(warning)
	}
	prober, err := startProbes(c, sc, srv, netip.Addr{}, nil)
	if err != nil {
		api.Shutdown(context.Background())
		srv.Shutdown(context.Background())
		return cli.Exit(err.Error(), 2)
	}
	if prober != nil {
		defer prober.Stop()
	}
	stopAutosave := func() {}
	if recorder != nil {
		fmt.Fprintf(os.Stderr, "dnsfault: recording every question into %s (written every %v and at exit; dnsfault deps reads it)\n", recordPath, c.Duration("record-every"))
		stopAutosave = autosave(c, recorder, recordPath, srv, cfg.Logger)
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "dnsfault: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	apiErr := api.Shutdown(shutdownCtx)
	err = firstErr(srv.Shutdown(shutdownCtx), apiErr)
	if recorder != nil {
		stopAutosave()
		if werr := recorder.WriteFile(recordPath, time.Now()); werr != nil {
			return cli.Exit(fmt.Sprintf("dnsfault: --record: %v", werr), 1)
		}
		fmt.Fprintf(os.Stderr, "dnsfault: recording written to %s\n", recordPath)
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("dnsfault: shutdown: %v", err), 1)
	}
	return nil
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// serverConfig reads the flags that configure the DNS server.
func serverConfig(c *cli.Context) (injector.Config, error) {
	if speed := c.Float64("speed"); speed <= 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		return injector.Config{}, fmt.Errorf("--speed %g: give a number above 0 (1: real time, 60: a minute a second)", speed)
	}
	up, err := parseUpstream(c.String("upstream"))
	if err != nil {
		return injector.Config{}, err
	}
	allow, err := parseAllow(c.StringSlice("allow"))
	if err != nil {
		return injector.Config{}, err
	}
	zones, err := readZones(c.StringSlice("zone"))
	if err != nil {
		return injector.Config{}, err
	}
	listens, err := parseListens(c.StringSlice("listen"))
	if err != nil {
		return injector.Config{}, err
	}
	cert, err := tlsCert(c)
	if err != nil {
		return injector.Config{}, err
	}
	cfg := injector.Config{
		ForwardRate:          c.Float64("rate-limit"),
		SigningBudget:        c.Duration("signing-budget"),
		MaxHeld:              c.Int("max-held"),
		MaxTCPConns:          c.Int("max-tcp-conns"),
		MaxTCPConnsPerClient: c.Int("max-tcp-conns-per-client"),
		TCPIdleTimeout:       c.Duration("tcp-idle-timeout"),
		Listen:               listens.plain,
		DoT:                  listens.dot,
		DoH:                  listens.doh,
		TLSCert:              cert,
		Upstream:             up,
		Zones:                zones,
		DNSSECAnchors:        c.String("dnssec-anchors"),
		UpstreamTimeout:      c.Duration("upstream-timeout"),
		Allow:                allow,
		Speed:                c.Float64("speed"),
		KeepTTLs:             c.Bool("keep-ttls"),
		MaxDuration:          c.Duration("max-duration"),
		Heartbeat:            c.Duration("heartbeat"),
		Logger:               slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	// The flags' defaults are DefaultConfig's, so a zero here means what
	// it means to the server: Validate is the one check.
	return cfg, cfg.Validate()
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// loadScenario opens a scenario by path or bundled name; with none it
// returns an empty scenario: a plain forwarding resolver.
func loadScenario(nameOrPath string, opts scenarios.Options) (*scenarios.Scenario, error) {
	if nameOrPath == "" {
		return scenarios.Parse("(no scenario)", []byte("version: 1\nname: none\n"), opts)
	}
	return scenarios.Open(nameOrPath, opts)
}

func openLog(path string) (io.Writer, func(), error) {
	if path == "-" {
		return os.Stdout, func() {}, nil
	}
	f, err := safefile.AppendLines(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// autosave writes the recording every --record-every until stop; a
// failed write is logged and shown by the status and the metrics.
func autosave(c *cli.Context, recorder *record.Recorder, path string, srv *injector.Server, logger *slog.Logger) (stop func()) {
	return recorder.Autosave(path, max(c.Duration("record-every"), 10*time.Millisecond), func(err error) {
		srv.RecordWritten(err)
		if err != nil {
			logger.Error("--record: the recording could not be written; the previous one is kept, and the next write tries again", "err", err)
		}
	})
}

// openDnstap opens --dnstap, when given: its frames are written until
// Close, which comes after the server has stopped.
func openDnstap(c *cli.Context) (*dnstap.Writer, error) {
	spec := c.String("dnstap")
	if spec == "" {
		return nil, nil
	}
	if path, isFile := strings.CutPrefix(spec, "file:"); isFile {
		if err := safefile.CheckWritable(path); err != nil {
			return nil, fmt.Errorf("--dnstap: %v", err)
		}
	}
	host, err := os.Hostname()
	if err != nil {
		host = "dnsfault"
	}
	return dnstap.Open(spec, host)
}
