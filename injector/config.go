package injector

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/dnsfault/dnsfault/injector/dnstap"
	"github.com/dnsfault/dnsfault/injector/listen"
	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/injector/upstream"
	"github.com/dnsfault/dnsfault/scenarios"
)

// DefaultListen is where the server listens unless told otherwise.
const DefaultListen = "127.0.0.1:1053"

// Defaults of the resource bounds.
const (
	DefaultForwardRate     = 1000
	DefaultSigningBudget   = 50 * time.Millisecond
	DefaultMaxHeld         = 100_000
	DefaultMaxTCPConns     = 1000
	DefaultMaxTCPPerClient = 64
	DefaultTCPIdleTimeout  = 10 * time.Second
	DefaultResolvConf      = "/etc/resolv.conf"
)

// Config is how a Server is run. Its zero value is a working server, and
// a zero field means the same here as the flag that sets it on the
// command line (whose defaults are DefaultConfig's): its default, or for
// ForwardRate, no limit.
type Config struct {
	// Listen is the UDP and TCP address; port 0 picks a free port, the same
	// for both. Default DefaultListen.
	Listen string
	// DoT, when set, is the address of a DNS-over-TLS listener (RFC 7858),
	// and DoH the URL of a DNS-over-HTTPS one (https://IP:PORT/PATH, RFC
	// 8484; HTTP/2 and HTTP/1.1). Port 0 picks a free port. They serve
	// TLSCert; without one (only on loopback) a certificate is made at
	// start, and Server.CA returns the authority that signed it.
	DoT, DoH string
	TLSCert  *tls.Certificate
	// Upstream, when set, overrides the scenario's upstream.
	Upstream []string
	// Zones are added to every scenario the server loads (--zone); each
	// replaces the scenario's zone of the same origin, if it has one.
	Zones []scenarios.Zone
	// DNSSECAnchors, when set, is written with the trust anchors of the
	// signed zones each time a scenario is loaded: DS records in zone-file
	// form (unbound's trust-anchor-file), or a BIND trust-anchors
	// statement when the name ends in .conf.
	DNSSECAnchors string
	// UpstreamTimeout bounds the wait for an upstream answer (default
	// upstream.DefaultTimeout).
	UpstreamTimeout time.Duration
	// ResolvConf is read for the `system` upstream (default
	// DefaultResolvConf).
	ResolvConf string
	// Allow lists the clients answered when Listen is not a loopback
	// address; it must then be set. Others get REFUSED.
	Allow []netip.Prefix
	// QueryLog, when set, receives one JSON line per query.
	QueryLog io.Writer
	// QueryLogPath and RecordPath name where the query log and the
	// recording (--record) go, for the status; the server writes neither.
	QueryLogPath, RecordPath string
	// Logger receives server events (default: discarded).
	Logger *slog.Logger
	// Now is the clock of the timeline and the safety switches (default
	// time.Now); tests step it.
	Now func() time.Time
	// Dnstap, when set, gets every query and answer, and the forwarded
	// ones (--dnstap). The caller opens it and closes it after Shutdown.
	Dnstap *dnstap.Writer
	// Speed runs every phase duration that many times faster (default 1),
	// and divides every TTL served by it too (rounded up, at least 1),
	// unless KeepTTLs: a replay caches as the outage did, only faster.
	Speed    float64
	KeepTTLs bool
	// MaxDuration, when set, turns every fault off that long after the
	// server starts, for good: a forgotten drill never outlives its window.
	MaxDuration time.Duration
	// Observe, when set, is called with every answered query, after the
	// reply went out. It must be safe for concurrent use, and quick.
	Observe func(*Event)
	// ForwardRate bounds each client's forwarded queries a second (burst:
	// twice that), so dnsfault cannot amplify traffic toward a spoofed
	// victim; over it a client gets REFUSED. 0 means no limit, as
	// --rate-limit 0 does; DefaultConfig has DefaultForwardRate.
	ForwardRate float64
	// SigningBudget bounds the time a second that answering UDP queries
	// with the DO bit for signed zones may take, per client prefix (/24,
	// /56; a fifth of it at once): such an answer may cost a signature
	// made on the spot or NSEC3 hashes, so one client flooding random
	// names cannot take the CPU from the others, while answers that cost
	// little are many before it binds. Past it, every second query gets
	// an empty truncated answer (the client asks again over TCP, as
	// response rate limiting's slip does) and the rest none, until the
	// time is paid back. 0 means no bound, as --signing-budget 0 does;
	// DefaultConfig has DefaultSigningBudget.
	SigningBudget time.Duration
	// MaxHeld bounds the queries held by delays at once (default
	// DefaultMaxHeld); a query over it is dropped and counted.
	MaxHeld int
	// MaxTCPConns bounds open TCP connections (default DefaultMaxTCPConns,
	// and never above half the process's open-file limit); at the bound
	// the connection idle longest gives way. MaxTCPConnsPerClient bounds
	// one client address's (default DefaultMaxTCPPerClient), and
	// TCPIdleTimeout closes idle ones (default DefaultTCPIdleTimeout), so
	// slow, idle or greedy TCP clients cannot starve others.
	MaxTCPConns          int
	MaxTCPConnsPerClient int
	TCPIdleTimeout       time.Duration
	// UDPSockets is how many UDP sockets share the port, each read by its
	// own goroutine (default: one per core where the kernel spreads
	// clients across them, on Linux at an address other than a wildcard;
	// one elsewhere).
	UDPSockets int
	// Heartbeat, when set, is a dead-man switch: without a heartbeat for
	// that long, every fault goes off until resume or load.
	Heartbeat time.Duration
	// StartOnFirstQuery holds the timeline until the first query arrives,
	// which starts it (run --start-when first-query): a client that is
	// slow to start still sees the whole first phase. OnTimelineStart,
	// when set, is told the timeline then.
	StartOnFirstQuery bool
	OnTimelineStart   func(scenarios.Timeline)
	// HoldTimeline holds the timeline, faults off, until StartTimeline is
	// called (run --start-when probe: the first successful probe).
	HoldTimeline bool
}

// DefaultConfig is the configuration the command line starts from: the
// zero Config with every default written out, forwarding limited to
// DefaultForwardRate a second per client, and signed answers over UDP to
// DefaultSigningBudget a second per client prefix.
func DefaultConfig() Config {
	cfg := Config{}.withDefaults()
	cfg.ForwardRate = DefaultForwardRate
	cfg.SigningBudget = DefaultSigningBudget
	return cfg
}

// withDefaults returns cfg with each zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.UpstreamTimeout == 0 {
		cfg.UpstreamTimeout = upstream.DefaultTimeout
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = DefaultResolvConf
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	if cfg.MaxHeld == 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	if cfg.MaxTCPConns == 0 {
		cfg.MaxTCPConns = DefaultMaxTCPConns
	}
	if cfg.MaxTCPConnsPerClient == 0 {
		cfg.MaxTCPConnsPerClient = DefaultMaxTCPPerClient
	}
	if cfg.TCPIdleTimeout == 0 {
		cfg.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	return cfg
}

// Validate reports every setting that cannot be served, each named by
// the flag that sets it. Zero fields are valid: see Config.
func (cfg Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.Speed < 0 {
		bad("--speed %g: must be above 0", cfg.Speed)
	}
	if cfg.ForwardRate < 0 {
		bad("--rate-limit %g: must not be negative (0 turns the limit off)", cfg.ForwardRate)
	}
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{{"upstream-timeout", cfg.UpstreamTimeout}, {"max-duration", cfg.MaxDuration}, {"heartbeat", cfg.Heartbeat}, {"tcp-idle-timeout", cfg.TCPIdleTimeout}} {
		if d.d < 0 {
			bad("--%s %v: must not be negative", d.flag, d.d)
		}
	}
	for _, n := range []struct {
		flag string
		n    int
	}{{"max-held", cfg.MaxHeld}, {"max-tcp-conns", cfg.MaxTCPConns}, {"max-tcp-conns-per-client", cfg.MaxTCPConnsPerClient}, {"udp-sockets", cfg.UDPSockets}} {
		if n.n < 0 {
			bad("--%s %d: must be at least 1", n.flag, n.n)
		}
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	if err := checkExposure(listen, cfg.Allow); err != nil {
		errs = append(errs, err)
	}
	if cfg.DoT != "" {
		if err := checkExposure(cfg.DoT, cfg.Allow); err != nil {
			errs = append(errs, fmt.Errorf("tls://: %w", err))
		} else if err := needsCert(cfg.DoT, cfg.TLSCert); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.DoH != "" {
		if addr, _, err := ParseDoHURL(cfg.DoH); err != nil {
			errs = append(errs, err)
		} else if err := checkExposure(addr, cfg.Allow); err != nil {
			errs = append(errs, fmt.Errorf("https://: %w", err))
		} else if err := needsCert(addr, cfg.TLSCert); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// needsCert refuses to make a certificate for an address beyond loopback:
// clients there must be able to check it against a name they know.
func needsCert(addr string, cert *tls.Certificate) error {
	host, _, _ := net.SplitHostPort(addr)
	if loopback, _ := listen.IsLoopback(host); !loopback && cert == nil {
		return fmt.Errorf("%s is not loopback: give --tls-cert and --tls-key (a certificate is made at start only for loopback)", addr)
	}
	return nil
}

// ParseDoHURL reads a DoH listener's URL, https://IP:PORT/PATH, and
// returns its address and path (/dns-query when none is given).
func ParseDoHURL(raw string) (addr, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		return "", "", fmt.Errorf("DoH listener %q: want https://IP:PORT/PATH, such as https://127.0.0.1:8443/dns-query", raw)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return "", "", fmt.Errorf("DoH listener %q: give the port, such as https://127.0.0.1:8443/dns-query", raw)
	}
	path = u.Path
	if path == "" || path == "/" {
		path = "/dns-query"
	}
	return u.Host, path, nil
}

// checkExposure refuses to listen beyond loopback without an allow-list:
// an open resolver can be abused for amplification.
func checkExposure(addr string, allow []netip.Prefix) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	loopback, err := listen.IsLoopback(host)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !loopback && len(allow) == 0 {
		return fmt.Errorf("listen address %s is not loopback: give --allow CIDR for the clients to answer, so dnsfault is not an open resolver", addr)
	}
	return nil
}

// allowed tells whether a client is in the allow-list; an empty list
// allows every client.
func allowed(allow []netip.Prefix, a netip.Addr) bool {
	return len(allow) == 0 || match.InPrefixes(allow, a)
}

// TTLScale is what TTLs are divided by: the speed, or 1 when they are
// kept as written.
func (cfg Config) TTLScale() float64 {
	if cfg.KeepTTLs || cfg.Speed <= 0 {
		return 1
	}
	return cfg.Speed
}
