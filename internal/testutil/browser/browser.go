// Package browser drives Debian's headless Chromium for the status-page
// tests: one fresh browser per test, stopped when the test ends.
package browser

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/straitproxy/strait/internal/testutil"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Bounds on one browser and on one WaitTrue.
const (
	lifetime = 3 * time.Minute
	waitFor  = 20 * time.Second
)

// Page is one browser tab. Its methods fail the test on error.
type Page struct {
	t   testing.TB
	ctx context.Context
}

// New starts headless Chromium with a fresh profile and a 1280×780
// viewport. A missing browser fails the test (it is never skipped: CI
// must run it) with a hint to hack/install-chromium.sh.
func New(t testing.TB) *Page {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("%s not found (%v): run hack/install-chromium.sh first", ChromiumPath, err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath),
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
	ctx, cancelTimeout := context.WithTimeout(ctx, lifetime)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	p := &Page{t: t, ctx: ctx}
	p.Resize(1280, 780)
	return p
}

// Resize sets the viewport, so a screenshot frames what it shows.
func (p *Page) Resize(width, height int64) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(width, height)); err != nil {
		p.t.Fatalf("resize to %dx%d: %v", width, height, err)
	}
}

// Open loads url in the tab.
func (p *Page) Open(url string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(url)); err != nil {
		p.t.Fatalf("load %s: %v", url, err)
	}
}

// WaitTrue polls the JavaScript expression js until it is true, failing
// the test with what after 20 s. An expression that throws counts as
// false, so it may reach into elements that are not rendered yet.
func (p *Page) WaitTrue(what, js string) {
	p.t.Helper()
	var lastErr error
	defer func() {
		if p.t.Failed() && lastErr != nil {
			p.t.Logf("last browser error: %v", lastErr)
		}
	}()
	testutil.WaitFor(p.t, waitFor, what, func() bool {
		ok, err := Eval[bool](p, "(() => { try { return "+js+"; } catch (e) { return false; } })()")
		lastErr = err
		return err == nil && ok
	})
}

// Eval evaluates js in the page and returns its value.
func Eval[T any](p *Page, js string) (T, error) {
	return chromedp.Run(p.ctx, chromedp.Evaluate[T](js))
}

// Screenshot captures the viewport, writes it to path and returns it.
func (p *Page) Screenshot(path string) []byte {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	p.t.Logf("screenshot: %s", path)
	return png
}
