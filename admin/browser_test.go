package admin

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/straitproxy/strait/internal/testutil"
)

const chromiumPath = "/usr/bin/chromium"

// TestStatusPageInBrowser loads /status in headless Chromium and checks
// that endpoints and their states appear and follow changes live. The
// source is a fake whose counters grow on every read (traffic flowing);
// the real guards and balancer stats are mapped into Status by the
// gateway, which the lead wires and tests end to end.
func TestStatusPageInBrowser(t *testing.T) {
	src := newDemoSource()
	r := start(t, Options{Status: src, ShareWindow: 2 * time.Second})
	ctx := newBrowser(t)
	b := &page{t: t, ctx: ctx}

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 780), chromedp.Navigate(r.base+"/status")); err != nil {
		t.Fatalf("load /status: %v", err)
	}
	b.waitTrue("three greeter endpoints, all closed", `[...document.querySelectorAll(
		'section[data-cluster="greeter"] td[data-breaker="closed"]')].length === 3`)
	b.waitTrue("skipped registry value shown", `document.querySelector('section[data-cluster="greeter"]').textContent.includes("1 bad registry value skipped")`)
	b.waitTrue("billing shown synced", `document.querySelector('section[data-cluster="billing"]').dataset.state === "synced"`)
	n := b.renders()
	b.waitTrue("the page refreshes by itself", "Number(document.body.dataset.renders) >= "+strconv.Itoa(n+2))

	src.update(func(st *Status) {
		e := &st.Clusters[0].Endpoints[1]
		e.Breaker, e.Ejections, e.InFlight = BreakerOpen, 1, 0
		e.LastError = "rpc error: code = Unavailable desc = connection refused"
		st.Clusters[1].State = StateStale
		st.Clusters[1].LastError = "k8s watch EndpointSlices: connection refused; serving the last good set"
	})
	b.waitTrue("breaker open shown", rowJS+`.querySelector("td[data-breaker]").dataset.breaker === "open"`)
	b.waitTrue("open row has its error", rowJS+`.textContent.includes("connection refused")`)
	b.waitTrue("billing shown stale with its error", `(() => {
		const s = document.querySelector('section[data-cluster="billing"]');
		return s.dataset.state === "stale" && s.textContent.includes("serving the last good set"); })()`)
	b.waitTrue("open endpoint's share falls to 0%", rowJS+`.querySelector(".share span").textContent === "0%"`)

	shot := b.screenshot(filepath.Join(t.TempDir(), "status.png"))
	if os.Getenv("STRAIT_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join("..", "docs", "status.png"), shot, 0o644); err != nil {
			t.Fatalf("update docs/status.png: %v", err)
		}
	}

	src.update(func(st *Status) { st.Clusters[0].Endpoints[1].Breaker = BreakerHalfOpen })
	b.waitTrue("half-open shown", rowJS+`.querySelector("td[data-breaker]").dataset.breaker === "half-open"`)

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(shutdownCtx); err != nil {
		t.Fatal(err)
	}
	b.waitTrue("lost connection shown", `document.getElementById("conn").className === "lost"`)
}

// rowJS selects the row of the endpoint whose breaker the test flips.
const rowJS = `document.querySelector('tr[data-endpoint="127.0.0.1:50052"]')`

// newBrowser starts headless Chromium with a fresh profile; it is
// stopped when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s not found (%v): run hack/install-chromium.sh first", chromiumPath, err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// page drives one browser tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

// waitTrue polls a JavaScript expression until it is true.
func (p *page) waitTrue(what, expr string) {
	p.t.Helper()
	var lastErr error
	defer func() {
		if p.t.Failed() && lastErr != nil {
			p.t.Logf("last browser error: %v", lastErr)
		}
	}()
	testutil.WaitFor(p.t, 20*time.Second, what, func() bool {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("(() => { try { return "+expr+"; } catch (e) { return false; } })()"))
		lastErr = err
		return err == nil && ok
	})
}

func (p *page) renders() int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int]("Number(document.body.dataset.renders || 0)"))
	if err != nil {
		p.t.Fatalf("read render count: %v", err)
	}
	return n
}

func (p *page) screenshot(path string) []byte {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
	return png
}
