// Package control is the HTTP control API of a running dnsfault server
// (status, abort, resume, phase jumps, scenario loads, heartbeats and
// metrics) and the client that `dnsfault ctl` uses to call it. Both sides
// live here so the wire format has one owner.
package control

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dnsfault/dnsfault/scenarios"
)

// DefaultAddr is where the control API listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8053"

// maxScenarioBytes bounds a scenario sent with PUT /v1/scenario.
const maxScenarioBytes = 1 << 20

// Engine is what the API steers; *injector.Server is one.
type Engine interface {
	Status() Status
	Live() Live
	Abort(who string)
	// Resume fails when faults cannot come back on (max-duration), and
	// Heartbeat when the server has no dead-man switch.
	Resume(who string) error
	Heartbeat() error
	JumpTo(phase, who string) error
	Load(sc *scenarios.Scenario, origin string, resume bool) error
	ReloadFailed(origin string, err error)
	Metrics() http.Handler
	// Ad-hoc rules: AddRule fails with an error wrapping ErrRuleExists
	// for a name in use, RemoveRule with one wrapping ErrNoSuchRule.
	AddRule(r scenarios.AdHocRule, who string) error
	RemoveRule(name, who string) error
	ResetRules(who string) int
	// Params are the running scenario's parameters, for ${name} in
	// ad-hoc rules.
	Params() map[string]string
}

// Errors an Engine's ad-hoc rule actions wrap.
var (
	ErrRuleExists = errors.New("an ad-hoc rule of that name exists")
	ErrNoSuchRule = errors.New("no ad-hoc rule of that name")
)

// Handler returns the control API and the dashboard. With a token, every
// request must carry it as `Authorization: Bearer TOKEN`, or in the cookie
// that opening the dashboard as /?token=TOKEN sets. closing, when it is
// closed, ends the dashboards' live streams (Listen passes one that its
// Shutdown closes).
//
// Every request passes the guard first (guard.go): hosts are the DNS
// names, besides localhost, that may reach the API as its Host.
func Handler(e Engine, token string, logger *slog.Logger, closing <-chan struct{}, hosts ...string) http.Handler {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	api := &api{e: e, log: logger, closing: closing}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", api.dashboard)
	mux.Handle("GET /assets/", api.assets())
	mux.HandleFunc("GET /v1/live", api.live)
	mux.HandleFunc("GET /v1/status", api.status)
	mux.HandleFunc("POST /v1/abort", api.abort)
	mux.HandleFunc("POST /v1/resume", api.resume)
	mux.HandleFunc("POST /v1/heartbeat", api.heartbeat)
	mux.HandleFunc("POST /v1/phase/{name}", api.phase)
	mux.HandleFunc("PUT /v1/scenario", api.load)
	mux.HandleFunc("POST /v1/rules", api.addRule)
	mux.HandleFunc("DELETE /v1/rules/{name}", api.removeRule)
	mux.HandleFunc("POST /v1/reset", api.reset)
	mux.Handle("GET /metrics", e.Metrics())
	if token == "" {
		return guard(hosts, mux)
	}
	return guard(hosts, requireToken(token, mux))
}

type api struct {
	e       Engine
	log     *slog.Logger
	closing <-chan struct{}
	streams atomic.Int32 // live streams open
}

func (a *api) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.e.Status())
}

func (a *api) abort(w http.ResponseWriter, r *http.Request) {
	a.e.Abort(r.RemoteAddr)
	writeJSON(w, http.StatusOK, a.e.Status())
}

func (a *api) resume(w http.ResponseWriter, r *http.Request) {
	if err := a.e.Resume(r.RemoteAddr); err != nil {
		writeJSON(w, http.StatusConflict, Problem{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, a.e.Status())
}

func (a *api) heartbeat(w http.ResponseWriter, _ *http.Request) {
	if err := a.e.Heartbeat(); err != nil {
		writeJSON(w, http.StatusConflict, Problem{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, a.e.Status())
}

func (a *api) phase(w http.ResponseWriter, r *http.Request) {
	if err := a.e.JumpTo(r.PathValue("name"), r.RemoteAddr); err != nil {
		writeJSON(w, http.StatusNotFound, Problem{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, a.e.Status())
}

// load validates the YAML body and swaps it in; with any error it answers
// 400 with every positioned error, and the running scenario stays.
// Query parameters: set=name=value (repeatable) and seed=N.
func (a *api) load(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxScenarioBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, Problem{Error: fmt.Sprintf("reading the scenario: %v", err)})
		return
	}
	opts, err := loadOptions(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, Problem{Error: err.Error()})
		return
	}
	origin := "PUT /v1/scenario from " + r.RemoteAddr
	// The client names the file in errors (ctl load sends the path it
	// read); it is only a label.
	file := r.URL.Query().Get("file")
	if file == "" || len(file) > 256 || strings.ContainsAny(file, "\n\r") {
		file = "scenario.yaml"
	}
	sc, err := scenarios.Parse(file, body, opts)
	if err == nil {
		err = a.e.Load(sc, origin, true)
	} else {
		a.e.ReloadFailed(origin, err)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, Problem{Error: "scenario not loaded; the running one keeps serving", Errors: scenarios.Messages(err)})
		return
	}
	writeJSON(w, http.StatusOK, a.e.Status())
}

// maxRuleBytes bounds an ad-hoc rule sent with POST /v1/rules.
const maxRuleBytes = 64 << 10

// addRule adds one ad-hoc rule, in scenario syntax (YAML or JSON) with a
// name and an optional `for`; errors are positioned in the body.
func (a *api) addRule(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRuleBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, Problem{Error: fmt.Sprintf("reading the rule: %v", err)})
		return
	}
	rule, err := scenarios.ParseAdHocRule("rule", body, a.e.Params())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, Problem{Error: "rule not added", Errors: scenarios.Messages(err)})
		return
	}
	if err := a.e.AddRule(rule, r.RemoteAddr); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrRuleExists) {
			code = http.StatusConflict
		}
		writeJSON(w, code, Problem{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, a.e.Status())
}

func (a *api) removeRule(w http.ResponseWriter, r *http.Request) {
	if err := a.e.RemoveRule(r.PathValue("name"), r.RemoteAddr); err != nil {
		writeJSON(w, http.StatusNotFound, Problem{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, a.e.Status())
}

// reset removes every ad-hoc rule: the scenario serves as loaded. The
// kill switch stays as it is: only resume turns faults back on.
func (a *api) reset(w http.ResponseWriter, r *http.Request) {
	a.e.ResetRules(r.RemoteAddr)
	writeJSON(w, http.StatusOK, a.e.Status())
}

func loadOptions(r *http.Request) (scenarios.Options, error) {
	// No ReadFile: a scenario sent over the API names no files.
	opts := scenarios.Options{NoProbes: true, NoFilesWhy: "a scenario sent over the control API may not name files, since the server would read them from its own disk on a client's word: put the records inline, or give the file to the server itself (dnsfault serve --zone FILE, or -s FILE)"}
	set, err := scenarios.ParseSet(r.URL.Query()["set"])
	if err != nil {
		return opts, fmt.Errorf("set %w", err)
	}
	opts.Set = set
	if s := r.URL.Query().Get("seed"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return opts, fmt.Errorf("seed %q: expected a whole number", s)
		}
		opts.Seed = &seed
	}
	return opts, nil
}

// Problem is the body of every error answer.
type Problem struct {
	Error string `json:"error"`
	// Errors lists positioned scenario errors (file:line:col: message).
	Errors []string `json:"errors,omitempty"`
}

// tokenCookie carries the token for browsers, which cannot send a bearer
// header when they open a page. SameSite=Strict keeps other sites from
// riding on it.
const tokenCookie = "dnsfault_token"

func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	equal := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("token"); q != "" && r.URL.Path == "/" && equal(q) {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther) // the token leaves the address bar
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		cookie, err := r.Cookie(tokenCookie)
		if subtle.ConstantTimeCompare(got, want) != 1 && (err != nil || !equal(cookie.Value)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dnsfault"`)
			refuse(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
