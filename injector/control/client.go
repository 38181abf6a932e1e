package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls a dnsfault control API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the API at addr (HOST:PORT or a URL).
func NewClient(addr, token string) *Client {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// ErrUnauthorized is returned when the API refuses the token.
var ErrUnauthorized = errors.New("the control API refused the token (401): give the server's token with --token or DNSFAULT_TOKEN")

// LoadError is returned when the server refuses a scenario or a rule;
// Errors holds its positioned errors.
type LoadError struct {
	What   string // "scenario not loaded; the running one keeps serving"
	Errors []string
}

func (e *LoadError) Error() string {
	return e.What + ":\n" + strings.Join(e.Errors, "\n")
}

// Status returns the server's state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	return c.call(ctx, http.MethodGet, "/v1/status", nil)
}

// Abort turns every fault off.
func (c *Client) Abort(ctx context.Context) (Status, error) {
	return c.call(ctx, http.MethodPost, "/v1/abort", nil)
}

// Resume turns faults back on.
func (c *Client) Resume(ctx context.Context) (Status, error) {
	return c.call(ctx, http.MethodPost, "/v1/resume", nil)
}

// Heartbeat feeds the server's dead-man switch.
func (c *Client) Heartbeat(ctx context.Context) (Status, error) {
	return c.call(ctx, http.MethodPost, "/v1/heartbeat", nil)
}

// Phase jumps to the named phase.
func (c *Client) Phase(ctx context.Context, name string) (Status, error) {
	return c.call(ctx, http.MethodPost, "/v1/phase/"+url.PathEscape(name), nil)
}

// Load sends a scenario's YAML, with parameter overrides, to be validated
// and swapped in.
// file names the scenario in the server's errors.
func (c *Client) Load(ctx context.Context, file string, yaml []byte, set map[string]string) (Status, error) {
	q := url.Values{}
	q.Set("file", file)
	for k, v := range set {
		q.Add("set", k+"="+v)
	}
	path := "/v1/scenario?" + q.Encode()
	return c.call(ctx, http.MethodPut, path, yaml)
}

// AddRule sends one ad-hoc rule (YAML or JSON, scenario syntax with a
// name and an optional `for`).
func (c *Client) AddRule(ctx context.Context, rule []byte) (Status, error) {
	return c.call(ctx, http.MethodPost, "/v1/rules", rule)
}

// RemoveRule removes the named ad-hoc rule.
func (c *Client) RemoveRule(ctx context.Context, name string) (Status, error) {
	return c.call(ctx, http.MethodDelete, "/v1/rules/"+url.PathEscape(name), nil)
}

// Reset removes every ad-hoc rule.
func (c *Client) Reset(ctx context.Context) (Status, error) {
	return c.call(ctx, http.MethodPost, "/v1/reset", nil)
}

func (c *Client) call(ctx context.Context, method, path string, body []byte) (Status, error) {
	var status Status
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return status, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return status, fmt.Errorf("cannot reach the control API at %s (is `dnsfault serve` running? --control names its address): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return status, fmt.Errorf("reading the answer of %s: %w", c.base, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return status, ErrUnauthorized
	case resp.StatusCode != http.StatusOK:
		var p Problem
		if json.Unmarshal(data, &p) != nil || p.Error == "" {
			return status, fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		if len(p.Errors) > 0 {
			return status, &LoadError{What: p.Error, Errors: p.Errors}
		}
		return status, errors.New(p.Error)
	}
	if err := json.Unmarshal(data, &status); err != nil {
		return status, fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return status, nil
}
