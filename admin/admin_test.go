package admin

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthz(t *testing.T) {
	r := start(t, Options{Ready: func() error { return errNotSynced }})
	code, body := r.get(t, "/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz = %d %q, want 200 ok even when not ready", code, body)
	}
}

func TestReadyzFollowsReadyFunc(t *testing.T) {
	var reason atomic.Pointer[error]
	reason.Store(&errNotSynced)
	r := start(t, Options{Ready: func() error { return *reason.Load() }})

	code, body := r.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, errNotSynced.Error()) {
		t.Fatalf("before sync: readyz = %d %q, want 503 naming the reason", code, body)
	}
	var none error
	reason.Store(&none)
	if code, _ := r.get(t, "/readyz"); code != http.StatusOK {
		t.Fatalf("after sync: readyz = %d, want 200", code)
	}
	draining := errors.New("draining")
	reason.Store(&draining)
	if code, body := r.get(t, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "draining") {
		t.Fatalf("draining: readyz = %d %q, want 503 draining", code, body)
	}
}

func TestReadyzWithoutFuncIsReady(t *testing.T) {
	r := start(t, Options{})
	if code, _ := r.get(t, "/readyz"); code != http.StatusOK {
		t.Fatalf("readyz = %d, want 200", code)
	}
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	off := start(t, Options{})
	if code, _ := off.get(t, "/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("pprof disabled: GET /debug/pprof/ = %d, want 404", code)
	}
	on := start(t, Options{Pprof: true})
	code, body := on.get(t, "/debug/pprof/goroutine?debug=1")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("pprof enabled: goroutine profile = %d %.80q", code, body)
	}
}

func TestStatusPageIsSelfContained(t *testing.T) {
	r := start(t, Options{})
	resp, err := r.client.Get(r.base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("content type %q", ct)
	}
	_, body := r.get(t, "/status")
	if !strings.Contains(body, `fetch("/status.json"`) || !strings.Contains(body, `fetch("/history.json"`) {
		t.Fatal("page does not poll /status.json and /history.json")
	}
	// The SVG namespace is a name the charts are created in, not a load.
	body = strings.ReplaceAll(body, `"http://www.w3.org/2000/svg"`, "")
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "<script src") {
		t.Fatal("page loads something from elsewhere; it must be self-contained")
	}
}

func TestStatusJSON(t *testing.T) {
	synced := time.Now().Add(-3 * time.Second).UTC().Truncate(time.Second)
	src := &fakeSource{st: twoClusters(synced)}
	r := start(t, Options{Status: src})

	code, body := r.get(t, "/status.json")
	if code != http.StatusOK {
		t.Fatalf("status.json = %d", code)
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	if len(st.Clusters) != 2 || st.Time.IsZero() || st.WindowSec != 10 {
		t.Fatalf("status = %+v", st)
	}
	g := st.Clusters[0]
	if g.Name != "greeter" || g.Source != "etcd" || g.State != "synced" || !g.LastSync.Equal(synced) {
		t.Fatalf("cluster = %+v", g)
	}
	open := g.Endpoints[1]
	if open.Breaker != "open" || open.EWMA != 0.25 || !strings.Contains(open.LastError, "Unavailable") {
		t.Fatalf("endpoint = %+v", open)
	}
	// First read: no earlier sample, so shares are all-time (100:20).
	if s := g.Endpoints[0].Share; s < 0.83 || s > 0.84 {
		t.Fatalf("share = %v, want 100/120", s)
	}
}

func TestStatusJSONEmptyListNotNull(t *testing.T) {
	r := start(t, Options{})
	_, body := r.get(t, "/status.json")
	if !strings.Contains(body, `"clusters":[]`) {
		t.Fatalf("status.json = %s; the page expects a list", body)
	}
}

func TestStatusJSONSurvivesOddValues(t *testing.T) {
	src := &fakeSource{st: Status{Clusters: []ClusterStatus{{
		Name: "c", Source: SourceStatic, State: StateNeverSynced,
		Endpoints: []EndpointStatus{{Addr: "a:1", EWMA: math.NaN()}, {Addr: "b:1", EWMA: math.Inf(1)}},
	}}}}
	r := start(t, Options{Status: src})
	code, body := r.get(t, "/status.json")
	if code != http.StatusOK || !strings.Contains(body, `"ewma_seconds":0`) {
		t.Fatalf("status.json = %d %s", code, body)
	}
	if strings.Contains(body, "last_sync") {
		t.Fatalf("a cluster that never synced has a last_sync: %s", body)
	}
}
