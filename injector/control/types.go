package control

import "time"

// The JSON the control API and the dashboard send: the server fills them
// in (injector.Server.Status and Live), the client and the page read them.

// Status is the state of a running server, as GET /v1/status reports it.
// Durations are in seconds; a field that does not apply is left out.
type Status struct {
	Scenario    string  `json:"scenario"`
	Description string  `json:"description,omitempty"`
	Seed        int64   `json:"seed"`
	Speed       float64 `json:"speed"`
	// TTLScale is what the TTLs served are divided by: the speed, or 1
	// when they are kept as written (--keep-ttls).
	TTLScale float64 `json:"ttl_scale"`
	// Listen is the DNS address; Upstream says where names outside the
	// zones are forwarded, with the addresses in use; Zones are the
	// origins answered from zones; Allow the clients answered (empty:
	// every client, on loopback); Record and QueryLog where --record and
	// --log-queries write.
	Listen   string   `json:"listen"`
	Upstream string   `json:"upstream"`
	Zones    []string `json:"zones"`
	// Signed describes each signed zone ("example.test. key 40000
	// ECDSAP256SHA256"), and DNSSECAnchors is where its trust anchors
	// are written (--dnssec-anchors).
	Signed        []string `json:"signed,omitempty"`
	DNSSECAnchors string   `json:"dnssec_anchors,omitempty"`
	Allow         []string `json:"allow,omitempty"`
	Record        string   `json:"record,omitempty"`
	// RecordError is why the last write of --record failed; empty when
	// it was written.
	RecordError string `json:"record_error,omitempty"`
	QueryLog    string `json:"query_log,omitempty"`
	// Timeline is not-started, running or ended.
	Timeline string `json:"timeline"`
	// Phase is the phase in force; faults may still be off.
	Phase               string   `json:"phase,omitempty"`
	PhaseIndex          int      `json:"phase_index"`
	PhaseElapsedSeconds float64  `json:"phase_elapsed_seconds"`
	PhaseLeftSeconds    *float64 `json:"phase_left_seconds,omitempty"`
	StartsInSeconds     *float64 `json:"starts_in_seconds,omitempty"`
	FaultsActive        bool     `json:"faults_active"`
	// FaultsOff says why faults are off: aborted, heartbeat missed,
	// max-duration reached, timeline ended, timeline not started.
	FaultsOff              string   `json:"faults_off,omitempty"`
	Aborted                bool     `json:"aborted"`
	MaxDurationLeftSeconds *float64 `json:"max_duration_left_seconds,omitempty"`
	HeartbeatLeftSeconds   *float64 `json:"heartbeat_left_seconds,omitempty"`
	InFlight               int64    `json:"in_flight"`
	Held                   int64    `json:"held"`
	// Panics counts queries whose handling panicked (each was answered
	// SERVFAIL); anything but 0 is a bug to report.
	Panics uint64 `json:"panics"`
	// QueryLogErrors counts the --log-queries lines that could not be
	// written, and QueryLogError is the last reason.
	QueryLogErrors uint64 `json:"query_log_errors,omitempty"`
	QueryLogError  string `json:"query_log_error,omitempty"`
	// AdHoc lists the ad-hoc rules (POST /v1/rules), which come before
	// the phase's rules.
	AdHoc      []AdHocRule   `json:"ad_hoc_rules"`
	Phases     []PhaseStatus `json:"phases"`
	LastReload *ReloadStatus `json:"last_reload,omitempty"`
}

// PhaseStatus is one phase of the scenario and its rules' hits.
type PhaseStatus struct {
	Name            string       `json:"name"`
	DurationSeconds float64      `json:"duration_seconds"` // 0: until the end
	Rules           []RuleStatus `json:"rules"`
}

// RuleStatus is one rule and what it did since the scenario was loaded
// (an ad-hoc rule: since it was added): the proof a fault fired, or why
// it did not.
type RuleStatus struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	// Seen counts the questions answered while the rule was in force,
	// Matched those whose conditions it met when its turn came, and Hits
	// those it took: its fault was injected (by type in InjectedByType).
	Seen           uint64            `json:"seen"`
	Matched        uint64            `json:"matched"`
	Hits           uint64            `json:"hits"`
	InjectedByType map[string]uint64 `json:"injected_by_type,omitempty"`
}

// AdHocRule is one ad-hoc rule and its hits since it was added.
type AdHocRule struct {
	RuleStatus
	// Summary says what the rule does to which queries, in one line.
	Summary string    `json:"summary"`
	Added   time.Time `json:"added"`
	By      string    `json:"by,omitempty"`
	// LeftSeconds is how long the rule has left; absent: until removed.
	LeftSeconds *float64 `json:"left_seconds,omitempty"`
}

// ReloadStatus is the outcome of the last load or reload.
type ReloadStatus struct {
	Time   time.Time `json:"time"`
	Origin string    `json:"origin"`
	OK     bool      `json:"ok"`
	// Errors are the problems that kept it from loading, one per line of
	// the scenario (file:line:col: message).
	Errors []string `json:"errors,omitempty"`
}

// Live is what the dashboard shows, at one instant.
type Live struct {
	Status Status `json:"status"`
	// Outcomes names the columns of each second's Counts.
	Outcomes []string `json:"outcomes"`
	// Seconds are the last 180 seconds, oldest first.
	Seconds  []LiveSecond    `json:"seconds"`
	TopNames []NameTreatment `json:"top_names"`
	// Probes are the service probes' latest results (--probe), by probe.
	Probes []ProbeStatus `json:"probes"`
	Latest []LatestQuery `json:"latest"`
	// Transports counts the queries since the start by transport (udp,
	// tcp, dot, doh).
	Transports map[string]int64 `json:"transports"`
}

// LiveSecond is one second's queries by outcome.
type LiveSecond struct {
	Unix   int64   `json:"t"`
	Counts []int64 `json:"counts"`
}

// NameTreatment is a much-queried name and what the phase in force does to
// it now.
type NameTreatment struct {
	Name      string `json:"name"`
	Queries   int64  `json:"queries"`
	Treatment string `json:"treatment"` // "answered normally", or "RULE: ACTION"
}

// LatestQuery is one recent query.
type LatestQuery struct {
	Time      time.Time `json:"time"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Client    string    `json:"client"`
	Rule      string    `json:"rule,omitempty"`
	Action    string    `json:"action"`
	Rcode     string    `json:"rcode"`
	LatencyMs float64   `json:"latency_ms"`
}

// ProbeStatus is one service probe's latest result and its tally.
type ProbeStatus struct {
	Probe     string    `json:"probe"`
	OK        bool      `json:"ok"`
	Time      time.Time `json:"time"`
	LatencyMs float64   `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
	Tries     int64     `json:"tries"`
	Failures  int64     `json:"failures"`
}
