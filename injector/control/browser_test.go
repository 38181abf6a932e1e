package control_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/injector"
	"github.com/dnsfault/dnsfault/injector/control"
	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
	"github.com/dnsfault/dnsfault/injector/dnstest"
	"github.com/dnsfault/dnsfault/scenarios"
)

// chromium finds Debian's Chromium, or skips naming it; in CI it must be
// there (.ci/run installs it).
func chromium(t *testing.T) string {
	for _, path := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	if path, err := exec.LookPath("chromium"); err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI must not skip: apt-get install -y chromium")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser test")
	return ""
}

// browser starts headless Chromium with no network of its own: no
// background requests, no QUIC, a fresh profile.
func browser(t *testing.T, path string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true), chromedp.WindowSize(1400, 1500))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, dnstest.Patience(90*time.Second))
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// text reads an element's text.
func text(t *testing.T, ctx context.Context, sel string) string {
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err)
	return s
}

func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, dnstest.Patience(20*time.Second), 50*time.Millisecond, what)
}

// checkChart requires the chart to span at least 90% of its box at the
// window's width, with a time axis ending at "now" and a q/s axis.
func checkChart(t *testing.T, ctx context.Context, width int) {
	t.Helper()
	eventually(t, ctx, fmt.Sprintf("the chart fills its box at %d px", width), func() bool {
		share, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
			const c = document.getElementById('chart');
			return c.getBoundingClientRect().width / c.parentElement.clientWidth;
		})()`))
		require.NoError(t, err)
		vb, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('chart').getAttribute('viewBox')`))
		require.NoError(t, err)
		px, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('chart').getBoundingClientRect().width`))
		require.NoError(t, err)
		// Drawn at the size shown: the viewBox is as wide as the box
		// (its border aside), so labels keep their size.
		var drawn float64
		fmt.Sscanf(vb, "0 0 %g", &drawn)
		return share >= 0.9 && math.Abs(drawn-px) <= 4
	})
	labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#chart text.axis')].map((e) => e.textContent)`))
	require.NoError(t, err)
	assert.Contains(t, labels, "now", "the time axis ends at now")
	assert.Contains(t, labels, "−3 min")
	assert.True(t, slices.ContainsFunc(labels, func(l string) bool { return strings.HasSuffix(l, " q/s") && l != "0 q/s" }), "a q/s axis: %q", labels)
	nowX, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
		const c = document.getElementById('chart').getBoundingClientRect();
		const now = [...document.querySelectorAll('#chart text.axis')].find((e) => e.textContent === 'now').getBoundingClientRect();
		return (c.right - now.right) / c.width;
	})()`))
	require.NoError(t, err)
	assert.Less(t, nowX, 0.05, "now is at the right edge")
	legend := text(t, ctx, "#legend")
	assert.Contains(t, legend, "servfail")
	assert.NotContains(t, legend, "garbage", "the legend lists only what happened")
}

func TestDashboardInChromium(t *testing.T) {
	path := chromium(t)
	sc, err := scenarios.Parse("failing.yaml", []byte(failing), scenarios.Options{})
	require.NoError(t, err)
	srv := dnsfaulttest.Serve(t, sc, injector.Config{})
	api, err := control.Listen("127.0.0.1:0", srv, "", nil)
	require.NoError(t, err)
	addr := api.Addr()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
		defer cancel()
		api.Shutdown(ctx)
	})
	require.NoError(t, srv.JumpTo("storm", "test"))

	ctx := browser(t, path)
	var mu sync.Mutex
	var requested []string
	require.NoError(t, chromedp.Do(ctx)) // opens the tab, so there is a target to listen to
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			mu.Lock()
			requested = append(requested, e.Request.URL)
			mu.Unlock()
		case *page.EventJavascriptDialogOpening:
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}) // the operator confirms (no command may run in the listener itself)
		}
	}))
	_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	for range 3 { // figures for the first paint
		_, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("a.t.test.", dns.TypeA), 2*time.Second)
		require.NoError(t, err)
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/"), chromedp.WaitVisible(chromedp.CSS("#phase"))))

	// It loads, shows the phase, and goes live.
	assert.Equal(t, "storm", text(t, ctx, "#phase"))
	assert.Equal(t, "ON", text(t, ctx, "#faults"))
	assert.Contains(t, text(t, ctx, "#config"), "forwarding to none")
	assert.Contains(t, text(t, ctx, "#legend"), "servfail", "the first paint has the figures")
	served, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`JSON.parse(document.getElementById('initial').textContent).seconds.reduce((n, s) => n + s.counts.reduce((a, b) => a + b, 0), 0)`))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, served, 3.0, "the page came with them, before the stream sent any")
	eventually(t, ctx, "the stream connects", func() bool { return text(t, ctx, "#connection") == "live" })

	// The chart moves while a client queries.
	total := func() int {
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#chart"), "data-total"))
		require.NoError(t, err)
		n, _ := strconv.Atoi(v.Value)
		return n
	}
	before := total()
	for range 40 {
		resp, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("a.t.test.", dns.TypeA), 2*time.Second)
		require.NoError(t, err)
		require.Equal(t, dns.RcodeServerFailure, resp.Rcode)
	}
	eventually(t, ctx, "the chart counts the queries", func() bool { return total() >= before+40 })
	checkChart(t, ctx, 1400)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(800, 1500)))
	checkChart(t, ctx, 800)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1400, 1500)))
	eventually(t, ctx, "the names table shows the treatment", func() bool {
		return strings.Contains(text(t, ctx, "#names"), "a-fails: servfail")
	})

	// Abort from the page: the next query is answered normally.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#abort"))))
	eventually(t, ctx, "the page says faults are off", func() bool { return text(t, ctx, "#faults") == "OFF: aborted" })
	resp, _, err := dnstest.Exchange(srv.Addr(), "udp", dnstest.Query("a.t.test.", dns.TypeA), 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "the next query after the page's abort is answered normally")
	assert.Contains(t, text(t, ctx, "#result"), "Abort: done")

	// Resume, then abort by keyboard.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#resume"))))
	eventually(t, ctx, "resumed", func() bool { return text(t, ctx, "#faults") == "ON" })
	require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent("A", chromedp.KeyModifiers(chromedp.ModifierShift))))
	eventually(t, ctx, "Shift+A aborts", func() bool { return text(t, ctx, "#faults") == "OFF: aborted" })

	// An ad-hoc rule shows, and the page removes it.
	require.NoError(t, srv.AddRule(scenarios.AdHocRule{Rule: scenarios.Rule{Name: "page-test", Action: scenarios.Action("refused"), Probability: scenarios.Always}}, "test"))
	eventually(t, ctx, "the ad-hoc rule shows", func() bool { return strings.Contains(text(t, ctx, "#adhoc"), "page-test: refused of every name") })
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#adhoc button[data-rule="page-test"]`))))
	eventually(t, ctx, "the page removed it, and says so", func() bool {
		return len(srv.Status().AdHoc) == 0 && strings.Contains(text(t, ctx, "#result"), "Remove page-test: done")
	})

	// A screenshot, kept as the test's artefact.
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	require.NoError(t, err)
	dir := os.Getenv("DNSFAULT_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dnsfault-artefacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard.png"), shot, 0o644))
	t.Logf("screenshot: %s", filepath.Join(dir, "dashboard.png"))

	// A hot reload shows on the page.
	next, err := scenarios.Parse("next.yaml", []byte("version: 1\nname: next-drill\nupstream: none\nrules: [{match: {names: [b.t.test]}, action: refused}]\n"), scenarios.Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Load(next, "test", true))
	eventually(t, ctx, "the page follows a reload", func() bool { return text(t, ctx, "#scenario") == "next-drill" })

	// A restart of the control server: the page reconnects by itself.
	shutdown, cancel := context.WithTimeout(context.Background(), dnstest.Patience(5*time.Second))
	require.NoError(t, api.Shutdown(shutdown))
	cancel()
	eventually(t, ctx, "the page notices", func() bool { return text(t, ctx, "#connection") != "live" })
	api, err = control.Listen(addr, srv, "", nil)
	require.NoError(t, err)
	eventually(t, ctx, "the page reconnects", func() bool { return text(t, ctx, "#connection") == "live" })

	// No request ever left this server.
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, requested)
	for _, raw := range requested {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		if u.Scheme == "data" {
			continue
		}
		assert.Equal(t, addr, u.Host, "a request to %s", raw)
	}
}

// TestTheDashboardCannotBeFramed: a cross-site page (localhost against
// 127.0.0.1) and a page on another port of the same host each frame the
// game-day page over an aborted drill and click where Resume is, with an
// operator who accepts any dialog. On the page itself that click asks to
// confirm and resumes; through either frame it reaches nothing: no
// dialog opens, and the drill stays aborted.
func TestTheDashboardCannotBeFramed(t *testing.T) {
	path := chromium(t)
	sc, err := scenarios.Parse("failing.yaml", []byte(failing), scenarios.Options{})
	require.NoError(t, err)
	srv := dnsfaulttest.Serve(t, sc, injector.Config{})
	api, err := control.Listen("127.0.0.1:0", srv, "", nil)
	require.NoError(t, err)
	t.Cleanup(func() { api.Shutdown(context.Background()) })
	apiURL := "http://" + api.Addr() + "/"

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><body style="margin:0"><iframe id="f" src="%s" onload="document.body.dataset.framed = 'yes'" style="position:absolute;left:0;top:0;width:1400px;height:1500px;border:0"></iframe></body>`, apiURL)
	}))
	t.Cleanup(attacker.Close)
	_, port, _ := net.SplitHostPort(attacker.Listener.Addr().String())

	ctx := browser(t, path)
	require.NoError(t, chromedp.Do(ctx))
	var dialogs atomic.Int32
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}))
	// Where Resume is, read from the page loaded on its own. A click
	// there asks to confirm before it resumes: the dialog opens while the
	// click is being dispatched, so it is counted when the click returns.
	srv.Abort("test")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(apiURL), chromedp.WaitVisible(chromedp.CSS("#resume"))))
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById('resume').getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.MouseClickXY(box[0], box[1])))
	assert.Equal(t, int32(1), dialogs.Load(), "Resume asks the operator first")
	eventually(t, ctx, "a click on Resume itself resumes", func() bool { return !srv.Status().Aborted })

	for _, attacker := range []string{"http://localhost:" + port + "/", "http://127.0.0.1:" + port + "/"} {
		srv.Abort("test")
		dialogs.Store(0)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(attacker), chromedp.WaitReady(chromedp.CSS("#f"))))
		eventually(t, ctx, "the frame has loaded (or been blocked)", func() bool {
			done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.dataset.framed === 'yes'`))
			return err == nil && done
		})
		for range 2 { // an operator who clicks twice
			require.NoError(t, chromedp.Do(ctx, chromedp.MouseClickXY(box[0], box[1])))
		}
		assert.Zero(t, dialogs.Load(), "a click through %s's frame reached the page", attacker)
		assert.True(t, srv.Status().Aborted, "a click through %s's frame resumed the drill", attacker)
	}

	// Every answer of the API, not only the page, refuses frames.
	resp, err := http.Get(apiURL + "v1/status")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
}
