package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/scenarios"
)

// shutdownGrace is how long in-flight queries get to finish on SIGINT/SIGTERM.
const shutdownGrace = 5 * time.Second

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "answer DNS on --listen, injecting the scenario's faults",
		Description: "With no scenario, dnsfault is a plain forwarding resolver.\n" +
			"SCENARIO is a file or the name of a bundled scenario (dnsfault scenarios list).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scenario", Aliases: []string{"s"}, Usage: "scenario `FILE` or bundled name"},
			&cli.StringFlag{Name: "listen", Value: injector.DefaultListen, Usage: "UDP and TCP `ADDR`ess; port 0 picks a free one"},
			&cli.StringFlag{Name: "upstream", Usage: "`system`, none, or HOST:PORT[,HOST:PORT] (overrides the scenario's)"},
			&cli.DurationFlag{Name: "upstream-timeout", Value: 2 * time.Second, Usage: "how long to wait for upstream before answering SERVFAIL"},
			&cli.StringSliceFlag{Name: "allow", Usage: "answer only clients in `CIDR` (required when --listen is not loopback)"},
			&cli.StringFlag{Name: "log-queries", Usage: "write one JSON line per query to `FILE` (- for stdout)"},
			setFlag,
			seedFlag,
		},
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
	up, err := parseUpstream(c.String("upstream"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	allow, err := parseAllow(c.StringSlice("allow"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	sc, err := loadScenario(c.String("scenario"), opts)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := injector.Config{
		Listen:          c.String("listen"),
		Upstream:        up,
		UpstreamTimeout: c.Duration("upstream-timeout"),
		Allow:           allow,
		Logger:          logger,
	}
	if path := c.String("log-queries"); path != "" {
		w, closeLog, err := openLog(path)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--log-queries: %v", err), 2)
		}
		defer closeLog()
		cfg.QueryLog = w
	}
	srv, err := injector.New(cfg, sc)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	fmt.Fprintf(os.Stderr, "dnsfault: serving %q on %s (udp and tcp), seed %d\n", sc.Name, srv.Addr(), srv.Seed())
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "dnsfault: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return cli.Exit(fmt.Sprintf("dnsfault: shutdown: %v", err), 1)
	}
	return nil
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
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
