package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/browser"
	"github.com/straitproxy/strait/internal/testutil/loadtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

// TestStatusPageLive runs strait in-process over three real backends with
// SayHello load flowing through it, and watches /status in headless
// Chromium while one backend fails every call and then heals; the
// history, sampled every 100 ms, charts the ejection. With
// STRAIT_UPDATE_SCREENSHOT=1 it writes docs/status.png and
// docs/status-history.png while that backend is ejected.
func TestStatusPageLive(t *testing.T) {
	start := time.Now()
	var backends [3]*backend.Server
	for i := range backends {
		backends[i] = backend.StartTest(t, fmt.Sprintf("b%d", i))
	}
	s := startStrait(t, backends[:])
	defer s.stop(t)
	load := loadtest.Start(t, s.conn)
	defer load.Stop()

	page := browser.New(t)
	page.Open("http://" + s.admin + "/status")
	for _, b := range backends {
		ep := endpointJS(b.Addr())
		page.WaitTrue(b.Addr()+" shown closed with a share", ep.breaker()+` === "closed" && `+ep.share()+` > 0`)
	}
	before := requests(t, page, backends[:])
	page.WaitTrue("request counts grow on every endpoint", growsJS(backends[:], before))
	t.Logf("%v: three endpoints closed, counts growing", time.Since(start).Round(time.Millisecond))

	bad := endpointJS(backends[1].Addr())
	backends[1].SetFailure(1, codes.Unavailable)
	page.WaitTrue("failing endpoint shown open with its error", bad.breaker()+` === "open" && `+
		bad.rowJS()+`.querySelector("td.err").textContent.includes("Unavailable")`)
	t.Logf("%v: %s shown open", time.Since(start).Round(time.Millisecond), backends[1].Addr())
	for _, i := range []int{0, 2} {
		ep := endpointJS(backends[i].Addr())
		page.WaitTrue(backends[i].Addr()+" keeps more share than the ejected one",
			ep.breaker()+` === "closed" && `+ep.share()+` > `+bad.share())
	}
	t.Logf("%v: %s ejected", time.Since(start).Round(time.Millisecond), backends[1].Addr())
	page.WaitTrue("the ejection marked on greeter's charts and the endpoint's", `[...document.querySelectorAll(
		'[data-history="greeter"] svg.chart')].filter((c) => c.querySelector('g.ejection[data-endpoint="`+backends[1].Addr()+`"]')).length === 3 &&
		[...`+bad.sparksJS()+`.querySelectorAll("svg.chart")].every((c) => c.querySelector("g.ejection"))`)
	page.WaitTrue("greeter's charts show errors and traffic", `(() => {
		const h = document.querySelector('[data-history="greeter"]');
		// An ejection 3 s old or more: its mark is inside the chart, not on its edge.
		const marks = [...h.querySelectorAll('[data-metric="rps"] g.ejection line')];
		return marks.some((m) => Number(m.getAttribute("x1")) < 300) &&
			Number(h.querySelector('[data-metric="rps"] polyline').dataset.points) >= 40 &&
			Number(h.querySelector('[data-metric="error_rate"] svg').dataset.peak) > 0; })()`)
	t.Logf("%v: history charted with the ejection marked", time.Since(start).Round(time.Millisecond))
	page.Resize(1280, 390)
	screenshot(t, page, "status.png")
	page.Resize(1280, 790)
	screenshot(t, page, "status-history.png")

	backends[1].SetFailure(0, 0)
	page.WaitTrue("healed endpoint shown closed again", bad.breaker()+` === "closed"`)
	t.Logf("%v: %s closed again", time.Since(start).Round(time.Millisecond), backends[1].Addr())
	before = requests(t, page, backends[:])
	page.WaitTrue("healed endpoint takes traffic again", growsJS(backends[1:2], before[1:2]))
	t.Logf("%v: %s takes traffic again; load ok %d, failed %d", time.Since(start).Round(time.Millisecond),
		backends[1].Addr(), load.OK.Load(), load.Failed.Load())
	if load.OK.Load() == 0 {
		t.Fatal("no call succeeded through strait")
	}
}

// screenshot captures the page; with STRAIT_UPDATE_SCREENSHOT=1 it
// rewrites docs/name with it.
func screenshot(t *testing.T, page *browser.Page, name string) {
	t.Helper()
	shot := page.Screenshot(filepath.Join(t.TempDir(), name))
	if os.Getenv("STRAIT_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", name), shot, 0o644); err != nil {
			t.Fatalf("update docs/%s: %v", name, err)
		}
	}
}

// endpointJS builds JavaScript expressions about one endpoint's row.
type endpointJS string

func (a endpointJS) rowJS() string {
	return `document.querySelector('tr[data-endpoint="` + string(a) + `"]')`
}

// sparksJS selects the row of the endpoint's history charts.
func (a endpointJS) sparksJS() string {
	return `document.querySelector('tr[data-sparks="` + string(a) + `"]')`
}

func (a endpointJS) breaker() string {
	return a.rowJS() + `.querySelector("td[data-breaker]").dataset.breaker`
}

func (a endpointJS) share() string {
	return `parseInt(` + a.rowJS() + `.querySelector(".share span").textContent)`
}

func (a endpointJS) requests() string {
	return `Number(` + a.rowJS() + `.querySelector("td.reqs").textContent)`
}

// requests reads the request counts the page shows for backends.
func requests(t *testing.T, page *browser.Page, backends []*backend.Server) []int {
	t.Helper()
	exprs := make([]string, len(backends))
	for i, b := range backends {
		exprs[i] = endpointJS(b.Addr()).requests()
	}
	n, err := browser.Eval[[]int](page, "["+strings.Join(exprs, ", ")+"]")
	if err != nil {
		t.Fatalf("read request counts: %v", err)
	}
	return n
}

// growsJS is true once every backend's count on the page exceeds before.
func growsJS(backends []*backend.Server, before []int) string {
	conds := make([]string, len(backends))
	for i, b := range backends {
		conds[i] = fmt.Sprintf("%s > %d", endpointJS(b.Addr()).requests(), before[i])
	}
	return strings.Join(conds, " && ")
}

// liveStrait is strait serving in-process, with a client connection to
// its gRPC listener.
type liveStrait struct {
	*serving
	admin string
	conn  *grpc.ClientConn
}

// startStrait serves one listener routing helloworld.Greeter to a
// cluster of backends, whose breakers eject after 3 failures in a row
// (each costing only a 100 ms penalty, so the next comes soon)
// for 1 s to 4 s, so the test sees ejection and recovery in seconds.
func startStrait(t *testing.T, backends []*backend.Server) *liveStrait {
	t.Helper()
	addrs := make([]string, len(backends))
	for i, b := range backends {
		addrs[i] = b.Addr()
	}
	addr := freeAddr(t)
	s := &liveStrait{admin: freeAddr(t)}
	path := writeConfig(t, fmt.Sprintf(`
admin: {address: %s, history_interval: 100ms}
listeners: [{name: edge, address: %s, routes: [{service: helloworld.Greeter, cluster: greeter}]}]
clusters:
  greeter:
    endpoints: [%s]
    balancer: {penalty: 100ms, breaker: {consecutive_failures: 3, timeout: 1s, max_timeout: 4s}}
timeouts: {drain: 5s}
`, s.admin, addr, strings.Join(addrs, ", ")))
	s.serving = serve(path)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.cancel()
		t.Fatal(err)
	}
	s.conn = conn
	callCtx, callCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer callCancel()
	if _, err := pb.NewGreeterClient(conn).SayHello(callCtx, &pb.HelloRequest{Name: "t"}, grpc.WaitForReady(true)); err != nil {
		s.stop(t)
		t.Fatalf("first call through strait: %v; log:\n%s", err, s.log)
	}
	return s
}

// stop closes the client and stops strait, failing the test unless it
// exits 0 within 10 s.
func (s *liveStrait) stop(t *testing.T) {
	t.Helper()
	s.conn.Close()
	s.serving.stop(t)
}
