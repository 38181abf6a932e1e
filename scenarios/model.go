package scenarios

import (
	"crypto"
	"net/netip"
	"regexp"
	"time"

	"github.com/miekg/dns"
)

// Scenario is a validated scenario file. Its fields are never changed after
// Parse returns, so one Scenario may be shared by any number of goroutines.
type Scenario struct {
	Version     int
	Name        string
	Description string
	Source      string
	// Params are the parameter values in force: the file's defaults with
	// overrides applied.
	Params map[string]string
	// Upstream is the file's upstream setting: nil when absent, otherwise
	// ["system"], ["none"] or a list of HOST:PORT addresses.
	Upstream []string
	Zones    []Zone
	// Seed seeds every random decision; HasSeed says whether the file (or an
	// override) set it.
	Seed    int64
	HasSeed bool
	// StartAt, when set, anchors the timeline to a wall-clock instant.
	StartAt time.Time
	// Expect states how clients must behave under the scenario; `dnsfault
	// run` fails when they do not.
	Expect Expect
	// Probes check the service while the scenario runs (run and serve
	// --probe add to them): http://, https://, tcp://HOST:PORT, exec:CMD.
	Probes []string
	// Phases always holds at least one phase: a file with top-level rules
	// and no phases yields one endless phase named "default".
	Phases []Phase
}

// Expect is a scenario's expectations of its clients. Zero values are
// expectations not stated.
type Expect struct {
	// MaxAmplification bounds each target name's query rate in every phase
	// against its rate in the baseline phase.
	MaxAmplification float64
	// MaxPeakAmplification bounds the same in the busiest second of each
	// phase: a burst that an average over the phase would hide.
	MaxPeakAmplification float64
	// MaxQPS bounds each target name's queries in any one second.
	MaxQPS float64
	// HonoursTTL, when true, requires clients not to re-ask a question
	// before the TTL of the answer they got ran out.
	HonoursTTL bool
	// MinAvailability bounds the share (percent) of the service's calls
	// that succeed, by phase name; the key "" bounds every phase. The
	// calls are what `run` learns from DNSFAULT_EVENTS.
	MinAvailability map[string]float64
	// MaxRecovery bounds the time, in scenario time, from the fix (the
	// phase marked fixed, or else the end of the last phase with rules)
	// to the service back at its healthy level.
	MaxRecovery time.Duration
	// Baseline is the phase whose rates count as healthy: the first phase
	// unless named, whenever there are two phases or more (amplification
	// is reported whether or not an expectation bounds it).
	Baseline string
	// Given says which of the bounds above the scenario (or --expect)
	// set, by their names in the file; none given means the defaults
	// (Defaulted) are judged.
	Given map[string]bool
	// Sources says where each given value comes from (the incident, or a
	// modelling choice), by name, for the report.
	Sources map[string]string
}

// Zone is fake authoritative data for one origin. Records holds the inline
// records followed by those of the zone file, all inside Origin.
type Zone struct {
	Origin  string // fully qualified, lower case
	Records []dns.RR
	// DNSSEC, when set, signs the zone: its answers to queries with the
	// DO bit carry RRSIGs and NSEC proofs.
	DNSSEC *ZoneDNSSEC
}

// ZoneDNSSEC is how a zone is signed.
type ZoneDNSSEC struct {
	// Algorithm is the DNSSEC algorithm number: ECDSAP256SHA256 (13) by
	// default, or ED25519 (15).
	Algorithm uint8
	// Key and PrivateKey are the signing key read from the files that
	// `key:` names; nil when the server generates one at start.
	Key        *dns.DNSKEY
	PrivateKey crypto.PrivateKey
	// NSEC3, when set, proves denial with NSEC3 (RFC 5155) instead of
	// NSEC.
	NSEC3 *NSEC3Params
}

// NSEC3Params are a zone's NSEC3 parameters: extra hash iterations, and
// the salt in hex ("" for none). RFC 9276 asks for 0 and none.
type NSEC3Params struct {
	Iterations uint16
	Salt       string
}

// Phase is one step of a scenario's timeline.
type Phase struct {
	Name string
	// Duration is how long the phase lasts; zero means until the end.
	Duration time.Duration
	Rules    []Rule
	// Fixed marks the phase at whose start the outage's cause is fixed
	// (the record is back): recovery is measured from there. Phases after
	// it may still hold rules, modelling what lingers (caches draining).
	Fixed bool
}

// Rule is one fault: which queries it takes and what it does to them.
type Rule struct {
	// Name identifies the rule in logs and reports; rules without a name in
	// the file are named "<phase>#<n>", n counting from 1.
	Name   string
	Match  Match
	Action Action
	// Records are the answer of an "answer" rule. Owners written as "@"
	// hold QueryName and stand for the name that was queried.
	Records []dns.RR
	Delay   time.Duration
	Jitter  time.Duration
	// TTL, when set, rewrites every TTL of the reply, and the negative TTL
	// of NXDOMAIN and empty replies.
	TTL *uint32
	// Probability is the share of matching queries the rule takes.
	Probability Probability
	// Keep, when above zero, trims the answer to that many records of the
	// queried type.
	Keep int
	// EDE, when set, is attached to the reply as an Extended DNS Error.
	EDE *EDE
	// HTTPStatus and RetryAfter are an http-status rule's HTTP status and
	// Retry-After.
	HTTPStatus int
	RetryAfter time.Duration
	// TLSMode is how a tls-fail rule fails the handshake: TLSClose,
	// TLSWrongName or TLSSlow.
	TLSMode string
	// DNSSEC, when set, breaks the DNSSEC records of the answers the rule
	// gives in a signed zone (see DNSSECFaults).
	DNSSEC DNSSECFault
	// NotViaCNAME keeps the rule to queries for the names it matches: by
	// default (via_cname: true) it also takes a name that the answer to
	// another query reaches through a CNAME or DNAME chain.
	NotViaCNAME bool
	// Line and Column locate the rule in its file, for messages.
	Line, Column int
}

// The ways a tls-fail rule fails a handshake.
const (
	TLSClose     = "close"      // an alert, and the connection closes
	TLSWrongName = "wrong-name" // a certificate for another name
	TLSSlow      = "slow"       // the handshake waits out the rule's delay, then succeeds
)

// QueryName is the owner name that "@" in a rule's records parses to; the
// injector replaces it with the queried name when it answers.
const QueryName = "query.dnsfault.invalid."

// Match lists the conditions a query must meet for a rule to take it. Every
// condition given must hold; an empty condition holds for every query.
type Match struct {
	Names     []NamePattern
	Types     []uint16
	Clients   []netip.Prefix
	Transport Transports // empty: every transport
}

// NameKind tells how a NamePattern compares names.
type NameKind int

// The kinds of name pattern.
const (
	// Exact matches the name itself.
	Exact NameKind = iota
	// Wildcard matches any name one or more labels below Name.
	Wildcard
	// Regexp matches names (lower case, without the trailing dot) that
	// Regexp finds a match in.
	Regexp
)

// NamePattern is one entry of match.names.
type NamePattern struct {
	Kind NameKind
	// Name is the fully qualified lower-case name for Exact, and the
	// suffix below which names match for Wildcard ("example.com." for
	// "*.example.com").
	Name   string
	Regexp *regexp.Regexp
	// Text is the pattern as written, parameters substituted.
	Text string
}

// Probability is a rule's share of matching queries, constant when From
// equals To, otherwise ramped linearly from From to To over the phase.
type Probability struct {
	From, To float64
}

// Always is the probability of a rule that does not set one.
var Always = Probability{From: 1, To: 1}

// At returns the probability at progress p (0 at the start of the phase, 1
// at its end).
func (p Probability) At(progress float64) float64 {
	if progress <= 0 {
		return p.From
	}
	if progress >= 1 {
		return p.To
	}
	return p.From + (p.To-p.From)*progress
}

// EDE is an Extended DNS Error (RFC 8914).
type EDE struct {
	Code uint16
	Text string
}
