package injector

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/fault"
	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/scenarios"
)

// Ad-hoc rules are added to a running server by an operator (POST
// /v1/rules, `ctl add`), as Toxiproxy's toxics are: they come before the
// phase's rules, stay across loads and reloads, and go when removed, when
// their `for` runs out, or on reset. The kill switches (abort, heartbeat,
// max-duration) turn them off with every other fault; the timeline does
// not, so they also serve before it starts and after it ends.

// Errors of the ad-hoc rule actions; the control API tells them apart.
var (
	ErrRuleExists = control.ErrRuleExists
	ErrNoSuchRule = control.ErrNoSuchRule
)

// adhocSet is the ad-hoc rules in force, first to last. It is immutable and
// swapped whole with the run state.
type adhocSet struct {
	rules   []*adhocRule
	matcher *match.Matcher
}

type adhocRule struct {
	plan  *rulePlan
	seen  atomic.Uint64 // questions answered while it was in force
	added time.Time
	until time.Time // zero: until removed
	by    string
	timer *time.Timer // ends it at until; nil without one
}

// adhocStreams sets ad-hoc rules' random streams apart from the phases'.
const adhocStreams = 1 << 62

func newAdhocSet(rules []*adhocRule) *adhocSet {
	if len(rules) == 0 {
		return nil
	}
	specs := make([]scenarios.Rule, len(rules))
	for i, r := range rules {
		specs[i] = *r.plan.spec
	}
	return &adhocSet{rules: rules, matcher: match.New(specs)}
}

// safetyOff tells whether faults are off by a kill switch, which also
// holds ad-hoc rules, rather than by where the timeline stands.
func safetyOff(off string) bool {
	return off == offAborted || off == offHeartbeat || off == offMaxDuration
}

// AddRule adds an ad-hoc rule in front of every phase's rules. who names
// the operator for the log.
func (s *Server) AddRule(ar scenarios.AdHocRule, who string) error {
	spec := ar.Rule
	f := fault.For(&spec)
	if f == nil {
		return fmt.Errorf("rule %q: action %q has no fault", spec.Name, spec.Action)
	}
	now := s.cfg.Now()
	r := &adhocRule{plan: &rulePlan{spec: &spec, fault: f, handshake: spec.Action == scenarios.TLSFail}, added: now, by: who}
	if ar.For > 0 {
		r.until = now.Add(ar.For)
	}
	err := s.update(func(st *runState) error {
		var rules []*adhocRule
		if st.adhoc != nil {
			// Rules whose time ran out by the server's clock go now, in
			// case their timer is late.
			rules = slices.DeleteFunc(slices.Clone(st.adhoc.rules), func(r *adhocRule) bool { return r.over(now) })
		}
		for _, old := range rules {
			if old.plan.spec.Name == spec.Name {
				return fmt.Errorf("%w: %q (remove it first)", ErrRuleExists, spec.Name)
			}
		}
		s.adhocSeq++
		r.plan.stream = adhocStreams | s.adhocSeq
		if ar.For > 0 {
			r.timer = time.AfterFunc(ar.For, func() { s.endRule(r, "its time ran out", "") })
		}
		st.adhoc = newAdhocSet(append(rules, r))
		return nil
	})
	if err != nil {
		return err
	}
	lasts := "until removed"
	if ar.For > 0 {
		lasts = ar.For.String()
	}
	s.cfg.Logger.Warn("ad-hoc rule added", "rule", spec.Name, "does", spec.Summary(), "for", lasts, "by", who)
	return nil
}

// RemoveRule removes the ad-hoc rule named name.
func (s *Server) RemoveRule(name, who string) error {
	var found *adhocRule
	if st := s.pipe.state.Load(); st.adhoc != nil {
		for _, r := range st.adhoc.rules {
			if r.plan.spec.Name == name {
				found = r
			}
		}
	}
	if found == nil || !s.endRule(found, "removed", who) {
		return fmt.Errorf("%w: %q", ErrNoSuchRule, name)
	}
	return nil
}

// endRule takes r out of the ad-hoc rules, if it is still there.
func (s *Server) endRule(r *adhocRule, why, who string) bool {
	removed := false
	s.update(func(st *runState) error {
		if st.adhoc == nil {
			return nil
		}
		rules := slices.DeleteFunc(slices.Clone(st.adhoc.rules), func(x *adhocRule) bool { return x == r })
		removed = len(rules) < len(st.adhoc.rules)
		st.adhoc = newAdhocSet(rules)
		return nil
	})
	if removed {
		if r.timer != nil {
			r.timer.Stop()
		}
		args := []any{"rule", r.plan.spec.Name, "why", why, "hits", r.plan.hits.Load()}
		if who != "" {
			args = append(args, "by", who)
		}
		s.cfg.Logger.Warn("ad-hoc rule ended", args...)
	}
	return removed
}

// ResetRules removes every ad-hoc rule: the scenario serves as loaded.
// It returns how many there were.
func (s *Server) ResetRules(who string) int {
	var gone []*adhocRule
	s.update(func(st *runState) error {
		if st.adhoc != nil {
			gone = st.adhoc.rules
		}
		st.adhoc = nil
		return nil
	})
	now, n := s.cfg.Now(), 0
	for _, r := range gone {
		if r.timer != nil {
			r.timer.Stop()
		}
		if !r.over(now) {
			n++
		}
	}
	s.cfg.Logger.Warn("reset: every ad-hoc rule removed; the scenario serves as loaded", "removed", n, "by", who)
	return n
}

// over tells whether r's time has run out at now.
func (r *adhocRule) over(now time.Time) bool { return !r.until.IsZero() && !now.Before(r.until) }

// adhocStatus lists the ad-hoc rules in force at now.
func (a *adhocSet) status(now time.Time) []control.AdHocRule {
	out := []control.AdHocRule{}
	if a == nil {
		return out
	}
	for _, r := range a.rules {
		st := control.AdHocRule{
			RuleStatus: r.plan.status(r.seen.Load()),
			Summary:    r.plan.spec.Summary(),
			Added:      r.added.UTC(),
			By:         r.by,
		}
		if !r.until.IsZero() {
			if r.over(now) {
				continue // ended; its timer is about to take it out
			}
			st.LeftSeconds = seconds(r.until.Sub(now))
		}
		out = append(out, st)
	}
	return out
}
