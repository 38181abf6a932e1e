package injector

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/scenarios"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers in one process (tests) do not collide.
type metrics struct {
	registry *prometheus.Registry
	queries  *prometheus.CounterVec
	// counters caches each label set's counter: looking one up in the
	// CounterVec hashes six strings under a lock, on every query.
	counters    sync.Map // queryLabels -> prometheus.Counter
	upstream    *prometheus.HistogramVec
	rateLimited prometheus.Counter
	// signedLimited counts the signed answers --signing-budget held
	// back.
	signedLimited prometheus.Counter
	heldDropped   prometheus.Counter
	panics        prometheus.Counter
	// queryLogErrors counts the query log's lines that could not be
	// written.
	queryLogErrors prometheus.Counter
	// recordErrors counts the writes of --record that failed.
	recordErrors prometheus.Counter
	// probes count the service probes' results, and probeUp says whether
	// each probe's last try succeeded.
	probes  *prometheus.CounterVec
	probeUp *prometheus.GaugeVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsfault_queries_total",
			Help: "Queries answered, by phase, rule (empty when none took it), action, rcode, query type and transport.",
		}, []string{"phase", "rule", "action", "rcode", "qtype", "transport"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dnsfault_upstream_duration_seconds",
			Help:    "Time taken by upstream exchanges, by outcome (ok or error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"outcome"}),
	}
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnsfault_rate_limited_total", Help: "Queries refused because their client forwarded more than --rate-limit a second."})
	m.signedLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnsfault_signing_limited_total", Help: "UDP queries for signed zones (DO set) not answered in full because their client's /24 or /56 had spent its --signing-budget: half got an empty truncated answer, half none."})
	m.heldDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnsfault_held_dropped_total", Help: "Delayed queries dropped because --max-held were already waiting."})
	m.panics = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnsfault_panics_total", Help: "Queries whose handling panicked; each was answered SERVFAIL."})
	m.queryLogErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnsfault_query_log_errors_total", Help: "Lines of --log-queries that could not be written (a full disk, say): each is a query missing from the log."})
	m.recordErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dnsfault_record_write_errors_total", Help: "Writes of --record that failed (a full disk, say); the file keeps the last recording written whole."})
	m.probes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsfault_probes_total", Help: "Service probes (--probe) tried, by probe and outcome (ok or failed)."}, []string{"probe", "outcome"})
	m.probeUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnsfault_probe_up", Help: "1 when the probe's last try succeeded, 0 when it failed."}, []string{"probe"})
	m.registry.MustRegister(m.queries, m.upstream, m.rateLimited, m.signedLimited, m.heldDropped, m.panics, m.queryLogErrors, m.recordErrors, m.probes, m.probeUp, &stateCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if tap := s.cfg.Dnstap; tap != nil {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "dnsfault_dnstap_dropped_total", Help: "dnstap frames (--dnstap) dropped because the reader was behind: answers are never held up for it."},
			func() float64 { return float64(tap.Dropped()) }))
	}
	return m
}

// Metrics serves the Prometheus metrics.
func (s *Server) Metrics() http.Handler {
	return promhttp.HandlerFor(s.pipe.obs.metrics.registry, promhttp.HandlerOpts{})
}

func (m *metrics) observeUpstream(took time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.upstream.WithLabelValues(outcome).Observe(took.Seconds())
}

// queryLabels are the labels of dnsfault_queries_total, as a map key.
type queryLabels struct {
	phase, rule, action, sent string
	rcode                     int
	qtype                     uint16
	transport                 scenarios.Transport
}

func (m *metrics) count(ev *Event) { m.counter(ev).Inc() }

// counter is the series of dnsfault_queries_total that counts ev.
func (m *metrics) counter(ev *Event) prometheus.Counter {
	key := queryLabels{ev.Phase, ev.Rule, ev.Action, ev.Sent, ev.Rcode, ev.Type, ev.Transport}
	c, ok := m.counters.Load(key)
	if !ok {
		c, _ = m.counters.LoadOrStore(key, m.queries.WithLabelValues(ev.Phase, ev.Rule, ev.Action, ev.RcodeName(), typeLabel(ev.Type), ev.Transport.String()))
	}
	return c.(prometheus.Counter)
}

// typeLabel names well-known types and folds the rest into "other", so a
// client cannot blow up the number of series.
func typeLabel(t uint16) string {
	if name, ok := dns.TypeToString[t]; ok {
		return name
	}
	return "other"
}

// stateCollector reports the timeline and the safety switches as they are
// at scrape time.
type stateCollector struct{ s *Server }

var (
	phaseDesc    = prometheus.NewDesc("dnsfault_phase", "1 for the phase in force (faults may still be off).", []string{"scenario", "phase"}, nil)
	activeDesc   = prometheus.NewDesc("dnsfault_faults_active", "1 when faults are being injected, 0 when they are off.", nil, nil)
	abortedDesc  = prometheus.NewDesc("dnsfault_aborted", "1 after an abort or a missed heartbeat, until resume or load.", nil, nil)
	inFlightDesc = prometheus.NewDesc("dnsfault_queries_in_flight", "Queries being handled, delayed ones included.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- phaseDesc
	ch <- activeDesc
	ch <- abortedDesc
	ch <- inFlightDesc
	ch <- ruleDesc
}

// ruleDesc is each rule's proof that its fault fired, or why it did not:
// the questions answered while it was in force (seen), those whose
// conditions it met (matched), and those it took (injected).
var ruleDesc = prometheus.NewDesc("dnsfault_rule_queries_total",
	"Questions seen while the rule was in force, matched by its conditions, and injected with its fault, by phase (ad-hoc for ad-hoc rules) and rule.",
	[]string{"phase", "rule", "stage"}, nil)

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.pipe.state.Load()
	pos, off := c.s.pipe.position(st, c.s.cfg.Now())
	if pos.State == "running" {
		ch <- prometheus.MustNewConstMetric(phaseDesc, prometheus.GaugeValue, 1, st.plan.scenario.Name, st.plan.scenario.Phases[pos.Phase].Name)
	}
	ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, boolValue(off == ""))
	ch <- prometheus.MustNewConstMetric(abortedDesc, prometheus.GaugeValue, boolValue(st.off != "" || off == offHeartbeat))
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(c.s.InFlight()))
	rule := func(phase string, r control.RuleStatus) {
		for stage, n := range map[string]uint64{"seen": r.Seen, "matched": r.Matched, "injected": r.Hits} {
			ch <- prometheus.MustNewConstMetric(ruleDesc, prometheus.CounterValue, float64(n), phase, r.Name, stage)
		}
	}
	for i, ph := range st.plan.phases {
		for _, r := range ph.rules {
			rule(st.plan.scenario.Phases[i].Name, r.status(ph.seen.Load()))
		}
	}
	if st.adhoc != nil {
		for _, r := range st.adhoc.rules {
			rule("ad-hoc", r.plan.status(r.seen.Load()))
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Probed records one try of a service probe (--probe): in the metrics,
// and as the probe's latest result on the dashboard.
func (s *Server) Probed(probe string, ok bool, at time.Time, latency time.Duration, errMsg string) {
	m := s.pipe.obs.metrics
	outcome, up := "failed", 0.0
	if ok {
		outcome, up = "ok", 1
	}
	m.probes.WithLabelValues(probe, outcome).Inc()
	m.probeUp.WithLabelValues(probe).Set(up)
	s.probesMu.Lock()
	defer s.probesMu.Unlock()
	if s.probes == nil {
		s.probes = map[string]*control.ProbeStatus{}
	}
	ps := s.probes[probe]
	if ps == nil {
		ps = &control.ProbeStatus{Probe: probe}
		s.probes[probe] = ps
	}
	ps.OK, ps.Time, ps.LatencyMs, ps.Error = ok, at.UTC(), float64(latency.Microseconds())/1000, errMsg
	ps.Tries++
	if !ok {
		ps.Failures++
	}
}

// probeStatuses are the probes' latest results, by probe.
func (s *Server) probeStatuses() []control.ProbeStatus {
	s.probesMu.Lock()
	defer s.probesMu.Unlock()
	out := []control.ProbeStatus{}
	for _, ps := range s.probes {
		out = append(out, *ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Probe < out[j].Probe })
	return out
}
