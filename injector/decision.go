package injector

import (
	"time"

	"github.com/dnsfault/dnsfault/injector/match"
	"github.com/dnsfault/dnsfault/scenarios"
)

// The one decision: which rule takes a question. Every stage asks it the
// same way (the prepacked fast path, a TLS handshake, a query, a name of
// its answer's CNAME chain), with a match.Query its listener or step
// fills in, and gets the same order: the ad-hoc rules unless a kill
// switch is off, then the phase's rules when faults are on. A new match
// condition or safety rule changes this file only.

// stage is what a decision is made for.
type stage uint8

const (
	// forQuestion decides a query's question.
	forQuestion stage = iota
	// forChain decides a name the answer's CNAME chain reached: rules
	// with via_cname: false stand aside.
	forChain
	// forHandshake decides a TLS handshake, before any question (the
	// query's Name is "."): only tls-fail rules take it.
	forHandshake
	// forFastPath asks whether any rule's conditions hold, whatever its
	// probability: such a query is decided the full way, not answered
	// from the prepacked answers.
	forFastPath
)

// decision is what the one decision gives.
type decision struct {
	rule  *rulePlan // nil: no rule takes it
	adhoc bool      // rule is an ad-hoc rule
	pos   scenarios.Position
	phase string // the phase in force, "" when faults are off
	off   string // why faults are off, "" when they are on
}

// decideRule decides mq, arrived at now, for stage s, on the state st.
func (p *pipeline) decideRule(st *runState, mq *match.Query, now time.Time, s stage) decision {
	d := decision{}
	d.pos, d.off = p.position(st, now)
	if d.off == "" {
		d.phase = st.plan.phases[d.pos.Phase].name
	}
	seed := st.plan.seed
	if a := st.adhoc; a != nil && !safetyOff(d.off) {
		if s == forQuestion {
			for _, r := range a.rules {
				r.seen.Add(1)
			}
		}
		i := a.matcher.First(mq, func(i int) bool {
			r := a.rules[i]
			progress := 0.0 // a rule with `for` ramps its probability over that time
			if !r.until.IsZero() {
				if r.over(now) {
					return false
				}
				progress = float64(now.Sub(r.added)) / float64(r.until.Sub(r.added))
			}
			return s.takes(r.plan, seed, progress)
		})
		if i >= 0 {
			d.rule, d.adhoc = a.rules[i].plan, true
			return d
		}
	}
	if d.off != "" {
		return d
	}
	ph := st.plan.phases[d.pos.Phase]
	if s == forQuestion {
		ph.seen.Add(1)
	}
	if i := ph.matcher.First(mq, func(i int) bool { return s.takes(ph.rules[i], seed, d.pos.Progress) }); i >= 0 {
		d.rule = ph.rules[i]
	}
	return d
}

// seenPrepacked counts a question answered from the prepacked answers,
// which no rule could take but each rule in force saw.
func (p *pipeline) seenPrepacked(st *runState, d decision) {
	if a := st.adhoc; a != nil && !safetyOff(d.off) {
		for _, r := range a.rules {
			r.seen.Add(1)
		}
	}
	if d.off == "" {
		st.plan.phases[d.pos.Phase].seen.Add(1)
	}
}

// takes tells whether rule r, whose conditions hold, takes the question
// at stage s, its probability drawn at progress. A rule that may act at
// this stage counts the question as matched, taken or not.
func (s stage) takes(r *rulePlan, seed uint64, progress float64) bool {
	switch s {
	case forFastPath:
		return true
	case forHandshake:
		if !r.handshake {
			return false
		}
	case forChain:
		if r.spec.NotViaCNAME || r.handshake {
			return false
		}
	default:
		if r.handshake {
			return false
		}
	}
	r.matched.Add(1)
	return r.takes(seed, r.spec.Probability.At(progress))
}
