package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/probe"
	"github.com/dnsfault/dnsfault/injector/record"
	"github.com/dnsfault/dnsfault/scenarios"
)

// scenarioOptions reads the flags every command that loads a scenario
// shares: --set and --seed.
func scenarioOptions(c *cli.Context) (scenarios.Options, error) {
	var opts scenarios.Options
	set, err := scenarios.ParseSet(c.StringSlice("set"))
	if err != nil {
		return opts, fmt.Errorf("--set %w", err)
	}
	opts.Set = set
	if c.IsSet("seed") {
		seed := c.Int64("seed")
		opts.Seed = &seed
	}
	return opts, nil
}

// serverFlags are the flags that serve and run share: how the server
// answers, is steered, logs and records, and its resource bounds. The
// listen and control addresses differ in their defaults, so each command
// has its own.
func serverFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "zone", Usage: "answer from the RFC 1035 zone `FILE` (origin: its SOA's owner or $ORIGIN), in every scenario; it replaces the scenario's zone of the same origin (repeatable)"},
		&cli.StringFlag{Name: "upstream", Usage: "`system`, none, or HOST:PORT[,HOST:PORT] (overrides the scenario's)"},
		&cli.DurationFlag{Name: "upstream-timeout", Value: defaults.UpstreamTimeout, Usage: "how long to wait (`D`) for upstream before answering SERVFAIL"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"DNSFAULT_TOKEN"}, Usage: "bearer `TOKEN` the control API requires (required when --control is not loopback)"},
		&cli.StringSliceFlag{Name: "control-host", Usage: "a DNS `NAME` the control API answers to as its Host, besides IP addresses and localhost (repeatable)"},
		&cli.Float64Flag{Name: "speed", Value: defaults.Speed, Usage: "run every phase duration `N` times faster, and divide the TTLs served by N too (rounded up, at least 1)"},
		&cli.BoolFlag{Name: "keep-ttls", Usage: "serve TTLs as written, whatever --speed"},
		&cli.DurationFlag{Name: "max-duration", DefaultText: "off", Usage: "turn every fault off for good `D` after the start"},
		&cli.StringFlag{Name: "log-queries", Usage: "write one JSON line per query to `FILE` (- for stdout)"},
		&cli.StringFlag{Name: "dnstap", Usage: "write every query and answer as dnstap to `OUTPUT`: file:PATH, unix:PATH or tcp:HOST:PORT (dnstap-read, dnstap-ldns); the answer's extra names the phase, rule and action"},
		&cli.StringSliceFlag{Name: "probe", Usage: "check the service every --probe-interval while the scenario runs: http(s)://URL (2xx), tcp://HOST:PORT (connects) or exec:COMMAND (exits 0); a host name resolves through dnsfault (repeatable)"},
		&cli.DurationFlag{Name: "probe-interval", Value: 500 * time.Millisecond, Usage: "how often (`D`) each probe runs"},
		&cli.DurationFlag{Name: "probe-timeout", Value: 2 * time.Second, Usage: "how long (`D`) one probe may take before it counts as failed"},
		&cli.StringFlag{Name: "tls-cert", Usage: "the certificate (PEM `FILE`) of the tls:// and https:// listeners; without it, on loopback, one is made at start"},
		&cli.StringFlag{Name: "tls-key", Usage: "the key (PEM `FILE`) of --tls-cert"},
		&cli.StringFlag{Name: "tls-ca-out", Usage: "write the authority of a certificate made at start to `FILE`, for clients to trust (default: a file in the temporary folder, named at start)"},
		&cli.StringFlag{Name: "dnssec-anchors", Usage: "write the trust anchors (DS records) of the scenario's signed zones to `FILE` whenever a scenario is loaded, for a validating resolver: zone-file lines for unbound's trust-anchor-file, or a BIND trust-anchors statement when FILE ends in .conf"},
		recordFlag,
		&cli.DurationFlag{Name: "record-every", Value: record.AutosaveInterval, Usage: "write --record every `D` while running, as well as at exit: what a process killed without warning can lose at most"},
		setFlag,
		seedFlag,
	}, resourceFlags()...)
}

// defaults are the server's defaults, which the flags show.
var defaults = injector.DefaultConfig()

// resourceFlags bound what clients can make the server do.
func resourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Float64Flag{Name: "rate-limit", Value: defaults.ForwardRate, Usage: "forwarded queries a second (`N`) per client (bursts of twice that); over it: REFUSED; 0: no limit"},
		&cli.DurationFlag{Name: "signing-budget", Value: defaults.SigningBudget, Usage: "time a second (`D`) that answering UDP queries with DO for signed zones may take per client /24 or /56 (signatures and NSEC3 hashes cost); past it: every second one an empty TC answer (ask over TCP), the rest none; 0: no bound"},
		&cli.IntFlag{Name: "max-held", Value: defaults.MaxHeld, Usage: "queries (`N`) held by delays at once; over it: dropped and counted"},
		&cli.IntFlag{Name: "max-tcp-conns", Value: defaults.MaxTCPConns, Usage: "open TCP, DoT and DoH connections (`N`) each at once (together at most half the open-file limit); at the bound the one idle longest is closed"},
		&cli.IntFlag{Name: "max-tcp-conns-per-client", Value: defaults.MaxTCPConnsPerClient, Usage: "open TCP, DoT and DoH connections (`N`) each of one client address"},
		&cli.DurationFlag{Name: "tcp-idle-timeout", Value: defaults.TCPIdleTimeout, Usage: "close TCP connections idle this long (`D`)"},
	}
}

var recordFlag = &cli.StringFlag{Name: "record", Usage: "record every distinct question, its answers and rcodes, into `FILE` (JSON) for dnsfault deps"}

var setFlag = &cli.StringSliceFlag{Name: "set", Usage: "override a scenario parameter: `name=value` (repeatable)"}

var seedFlag = &cli.Int64Flag{Name: "seed", DefaultText: "the scenario's, or random and printed at start", Usage: "seed every random decision with `N` (overrides the scenario's seed)"}

// parseUpstream reads --upstream: system, none, or HOST:PORT[,HOST:PORT...].
func parseUpstream(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s == "system" || s == "none" {
		return []string{s}, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		addr, err := scenarios.ParseHostPort(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("--upstream: %w", err)
		}
		out = append(out, addr)
	}
	return out, nil
}

// readZones reads --zone files.
func readZones(files []string) ([]scenarios.Zone, error) {
	var zones []scenarios.Zone
	for _, f := range files {
		z, err := scenarios.ReadZoneFile(f)
		if err != nil {
			return nil, fmt.Errorf("--zone: %w", err)
		}
		zones = append(zones, z)
	}
	return zones, nil
}

// parseAllow reads --allow CIDRs (a bare address means just that address).
func parseAllow(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		p, err := scenarios.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("--allow %q: expected a CIDR such as 10.0.0.0/8", v)
		}
		out = append(out, p)
	}
	return out, nil
}

// startProbes starts the scenario's probes and --probe's against the
// server at dnsAddr, giving each result to report (and the server's
// metrics). It returns nil when there are none.
func startProbes(c *cli.Context, sc *scenarios.Scenario, srv *injector.Server, from netip.Addr, report func(probe.Result)) (*probe.Prober, error) {
	specs := append(append([]string{}, sc.Probes...), c.StringSlice("probe")...)
	if len(specs) == 0 {
		return nil, nil
	}
	checks := map[string]probe.Check{}
	for _, spec := range specs {
		check, err := probe.Parse(spec, srv.Addr(), from)
		if err != nil {
			return nil, fmt.Errorf("--probe: %w", err)
		}
		checks[spec] = check
	}
	interval, timeout := c.Duration("probe-interval"), c.Duration("probe-timeout")
	if interval <= 0 || timeout <= 0 {
		return nil, fmt.Errorf("--probe-interval and --probe-timeout must be above 0")
	}
	return probe.Start(checks, interval, timeout, func(r probe.Result) {
		srv.Probed(r.Probe, r.OK, r.Time, r.Latency, r.Error)
		if report != nil {
			report(r)
		}
	}), nil
}
