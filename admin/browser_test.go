package admin

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/browser"
)

// TestStatusPageInBrowser loads /status in headless Chromium and checks
// that endpoints and their states appear and follow changes live, and
// that the history charts are drawn with the ejection marked. The
// source is a fake whose counters grow on every read (traffic flowing);
// the real gateway behind this page is tested end to end, with real
// backends and traffic, by cmd/strait's TestStatusPageLive, which also
// draws docs/status.png.
func TestStatusPageInBrowser(t *testing.T) {
	src := newDemoSource()
	ej := &fakeEjections{}
	r := start(t, Options{Status: src, ShareWindow: 2 * time.Second, Ejections: ej, HistoryInterval: 100 * time.Millisecond})
	b := browser.New(t)
	b.Open(r.base + "/status")
	b.WaitTrue("three greeter endpoints, all closed", `[...document.querySelectorAll(
		'section[data-cluster="greeter"] td[data-breaker="closed"]')].length === 3`)
	b.WaitTrue("skipped registry value shown", `document.querySelector('section[data-cluster="greeter"]').textContent.includes("1 bad registry value skipped")`)
	b.WaitTrue("billing shown synced", `document.querySelector('section[data-cluster="billing"]').dataset.state === "synced"`)
	n := renders(t, b)
	b.WaitTrue("the page refreshes by itself", "Number(document.body.dataset.renders) >= "+strconv.Itoa(n+2))

	b.WaitTrue("greeter's charts drawn with several points", chartsJS("greeter")+` >= 3`)
	b.WaitTrue("endpoint sparklines drawn", `document.querySelector('tr[data-sparks="127.0.0.1:50051"] svg.chart polyline').dataset.points >= 3`)

	testutil.WaitFor(t, 10*time.Second, "the sampler subscribed to ejections", ej.subscribed)
	ej.fire(Ejection{Time: time.Now(), Cluster: "greeter", Endpoint: "127.0.0.1:50052", Kind: EjectionBreaker})
	src.update(func(st *Status) {
		e := &st.Clusters[0].Endpoints[1]
		e.Breaker, e.Ejections, e.InFlight = BreakerOpen, 1, 0
		e.LastError = "rpc error: code = Unavailable desc = connection refused"
		st.Clusters[1].State = StateStale
		st.Clusters[1].LastError = "k8s watch EndpointSlices: connection refused; serving the last good set"
	})
	b.WaitTrue("breaker open shown", rowJS+`.querySelector("td[data-breaker]").dataset.breaker === "open"`)
	b.WaitTrue("open row has its error", rowJS+`.textContent.includes("connection refused")`)
	b.WaitTrue("billing shown stale with its error", `(() => {
		const s = document.querySelector('section[data-cluster="billing"]');
		return s.dataset.state === "stale" && s.textContent.includes("serving the last good set"); })()`)
	b.WaitTrue("open endpoint's share falls to 0%", rowJS+`.querySelector(".share span").textContent === "0%"`)
	b.WaitTrue("ejection marked on each of greeter's charts", `document.querySelectorAll(
		'[data-history="greeter"] svg.chart g.ejection[data-endpoint="127.0.0.1:50052"][data-kind="breaker_open"]').length === 3`)
	b.WaitTrue("ejection marked on the endpoint's sparklines only", `document.querySelectorAll(
		'tr[data-sparks="127.0.0.1:50052"] g.ejection').length === 3 &&
		document.querySelectorAll('tr[data-sparks="127.0.0.1:50051"] g.ejection').length === 0`)

	b.Screenshot(filepath.Join(t.TempDir(), "status.png"))

	src.update(func(st *Status) { st.Clusters[0].Endpoints[1].Breaker = BreakerHalfOpen })
	b.WaitTrue("half-open shown", rowJS+`.querySelector("td[data-breaker]").dataset.breaker === "half-open"`)

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(shutdownCtx); err != nil {
		t.Fatal(err)
	}
	b.WaitTrue("lost connection shown", `document.getElementById("conn").className === "lost"`)
}

// chartsJS is the fewest points drawn by any line of the cluster's
// three history charts, 0 while they are missing.
func chartsJS(cluster string) string {
	return `(() => {
		const lines = [...document.querySelectorAll('[data-history="` + cluster + `"] figure svg.chart polyline')];
		const figs = document.querySelectorAll('[data-history="` + cluster + `"] figure[data-metric]').length;
		return figs === 3 && lines.length === 4 ? Math.min(...lines.map((l) => Number(l.dataset.points))) : 0; })()`
}

// rowJS selects the row of the endpoint whose breaker the test flips.
const rowJS = `document.querySelector('tr[data-endpoint="127.0.0.1:50052"]')`

func renders(t *testing.T, b *browser.Page) int {
	t.Helper()
	n, err := browser.Eval[int](b, "Number(document.body.dataset.renders || 0)")
	if err != nil {
		t.Fatalf("read render count: %v", err)
	}
	return n
}
