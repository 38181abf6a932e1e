package control_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// TestGuardRefusesWhatAWebPageCanSend: the requests a page in the
// operator's browser can make, by DNS rebinding or across origins, are
// refused, and the faults stay on; ctl's and curl's requests pass.
func TestGuardRefusesWhatAWebPageCanSend(t *testing.T) {
	f := startFixture(t, failing, "")
	base := "http://" + f.api.Addr()
	cases := []struct {
		desc    string
		method  string
		path    string
		headers map[string]string
		body    string
		code    int
	}{
		{"a rebound name as Host, reading", "GET", "/v1/status", map[string]string{"Host": "evil.example:8053"}, "", http.StatusMisdirectedRequest},
		{"a rebound name as Host, loading", "PUT", "/v1/scenario", map[string]string{"Host": "evil.example"}, "version: 1\n", http.StatusMisdirectedRequest},
		{"another origin", "POST", "/v1/abort", map[string]string{"Origin": "http://evil.example"}, "", http.StatusForbidden},
		{"another port of this host", "POST", "/v1/abort", map[string]string{"Origin": "http://127.0.0.1:1"}, "", http.StatusForbidden},
		{"an opaque origin", "POST", "/v1/abort", map[string]string{"Origin": "null"}, "", http.StatusForbidden},
		{"a cross-site fetch", "POST", "/v1/abort", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", http.StatusForbidden},
		{"a same-site fetch from another port", "POST", "/v1/abort", map[string]string{"Sec-Fetch-Site": "same-site"}, "", http.StatusForbidden},
		{"a form's text/plain body", "POST", "/v1/abort", map[string]string{"Content-Type": "text/plain"}, "x=y", http.StatusUnsupportedMediaType},
		{"a form's urlencoded body", "POST", "/v1/phase/storm", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "x=y", http.StatusUnsupportedMediaType},
		{"a form's multipart body", "PUT", "/v1/scenario", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "--x--", http.StatusUnsupportedMediaType},
		{"a form adding an ad-hoc rule", "POST", "/v1/rules", map[string]string{"Content-Type": "text/plain"}, "name: x\naction: drop\n", http.StatusUnsupportedMediaType},
		{"another origin adding an ad-hoc rule", "POST", "/v1/rules", map[string]string{"Origin": "http://evil.example", "Content-Type": "application/json"}, `{"name": "x", "action": "drop"}`, http.StatusForbidden},
		{"another origin removing a rule", "DELETE", "/v1/rules/x", map[string]string{"Origin": "http://evil.example"}, "", http.StatusForbidden},
		{"a cross-site reset", "POST", "/v1/reset", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			resp := send(t, tc.method, base+tc.path, tc.headers, tc.body)
			assert.Equal(t, tc.code, resp.StatusCode)
			assert.True(t, resp.Close, "a refused client gets no kept-alive connection")
			st, err := f.client.Status(t.Context())
			require.NoError(t, err)
			assert.True(t, st.FaultsActive, "the faults are still on")
		})
	}
	for _, ok := range []struct {
		desc    string
		headers map[string]string
	}{
		{"curl: no Origin, no body", nil},
		{"the dashboard: its own origin", map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}},
		{"localhost as Host", map[string]string{"Host": "localhost:" + strings.Split(f.api.Addr(), ":")[1]}},
	} {
		t.Run(ok.desc, func(t *testing.T) {
			resp := send(t, "POST", base+"/v1/abort", ok.headers, "")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			_, err := f.client.Resume(t.Context())
			require.NoError(t, err)
		})
	}
}

func TestGuardAllowsNamedHosts(t *testing.T) {
	sc, err := scenarios.Parse("failing.yaml", []byte(failing), scenarios.Options{})
	require.NoError(t, err)
	srv := dnsfaulttest.Serve(t, sc, injector.Config{})
	api, err := control.Listen("127.0.0.1:0", srv, "", nil, "dnsfault.lab.internal")
	require.NoError(t, err)
	t.Cleanup(func() { api.Shutdown(t.Context()) })
	resp := send(t, "GET", "http://"+api.Addr()+"/v1/status", map[string]string{"Host": "dnsfault.lab.internal:8053"}, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp = send(t, "GET", "http://"+api.Addr()+"/v1/status", map[string]string{"Host": "other.lab.internal"}, "")
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)
}

func send(t *testing.T, method, url string, headers map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestACrossOriginFormCannotAbort: a page on another origin that submits
// a form to /v1/abort in headless Chromium reaches the API, and leaves
// the faults on.
func TestACrossOriginFormCannotAbort(t *testing.T) {
	path := chromium(t)
	sc, err := scenarios.Parse("failing.yaml", []byte(failing), scenarios.Options{})
	require.NoError(t, err)
	srv := dnsfaulttest.Serve(t, sc, injector.Config{})
	var reached atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/abort" {
			reached.Add(1)
		}
		control.Handler(srv, "", nil, nil).ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	for _, enctype := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"} {
		t.Run(enctype, func(t *testing.T) {
			evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `<html><body><form id=f method=POST enctype=%q action="%s/v1/abort"><input name=a value=b></form>
<script>document.getElementById('f').submit()</script></body></html>`, enctype, api.URL)
			}))
			t.Cleanup(evil.Close)
			before := reached.Load()
			ctx := browser(t, path)
			_, err := chromedp.Run(ctx, chromedp.Navigate(evil.URL))
			require.NoError(t, err)
			eventually(t, ctx, "the form reached the API", func() bool { return reached.Load() > before })
			assert.True(t, srv.Status().FaultsActive, "the faults are still on")
		})
	}
}

// TestALoadedScenarioCannotRunProbes: probes connect out and run
// commands, so a scenario sent over the API may not name them.
func TestALoadedScenarioCannotRunProbes(t *testing.T) {
	f := startFixture(t, failing, "")
	_, err := f.client.Load(t.Context(), "", []byte("version: 1\nprobes: [\"exec:touch /tmp/pwned\"]\n"), nil)
	require.Error(t, err)
	assert.ErrorContains(t, err, "scenario not loaded")
	st, err := f.client.Status(t.Context())
	require.NoError(t, err)
	require.NotNil(t, st.LastReload)
	assert.Equal(t, []string{`scenario.yaml:2:9: probes connect out and run commands: give them in the scenario dnsfault starts with (-s) or with --probe, not over the control API`}, st.LastReload.Errors)
}
