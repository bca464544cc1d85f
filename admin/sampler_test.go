package admin

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
)

// fakeEjections is an EjectionSource the test fires by hand.
type fakeEjections struct {
	mu sync.Mutex
	fn func(Ejection)
}

func (f *fakeEjections) SubscribeEjections(fn func(Ejection)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fn = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fn = nil
	}
}

// fire reports e and says whether anyone was subscribed.
func (f *fakeEjections) fire(e Ejection) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fn == nil {
		return false
	}
	f.fn(e)
	return true
}

func (f *fakeEjections) subscribed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fn != nil
}

// TestSamplerTakesAPointPerTick drives run with its own ticks, each
// carrying the sample's time, so it needs no clock and no sleep.
func TestSamplerTakesAPointPerTick(t *testing.T) {
	h := newHistory(5 * time.Second)
	var reads uint64 // only the sampler reads: 50 more requests each time
	src := StatusFunc(func() Status {
		reads++
		return counters(EndpointStatus{Addr: "a", Requests: 50 * reads})
	})
	ej := &fakeEjections{}
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(ctx, src, ej, ticks)
	}()
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		ticks <- t0.Add(time.Duration(i) * 5 * time.Second)
	}
	points := func() []EndpointPoint {
		v := h.view(t0)
		if len(v.Clusters) == 0 || len(v.Clusters[0].Endpoints) == 0 {
			return nil
		}
		return v.Clusters[0].Endpoints[0].Points
	}
	testutil.WaitFor(t, 10*time.Second, "three points after four ticks", func() bool { return len(points()) == 3 })
	for _, p := range points() {
		if !near(p.Rate, 10) {
			t.Fatalf("point %+v, want 50 requests in 5 s", p)
		}
	}
	if !ej.fire(Ejection{Time: t0.Add(12 * time.Second), Cluster: "c", Endpoint: "a", Kind: EjectionBreaker}) {
		t.Fatal("the sampler did not subscribe to ejections")
	}
	if e := h.view(t0.Add(15 * time.Second)).Clusters[0].Ejections; len(e) != 1 || e[0].Endpoint != "a" {
		t.Fatalf("ejections %+v, want the one fired", e)
	}
	cancel()
	<-done
	if ej.subscribed() {
		t.Fatal("the sampler stopped but is still subscribed")
	}
}

// TestServerServesHistory runs the server's own sampler, fast, and reads
// /history.json until it has points and the ejection.
func TestServerServesHistory(t *testing.T) {
	src := newDemoSource()
	ej := &fakeEjections{}
	r := start(t, Options{Status: src, Ejections: ej, HistoryInterval: 20 * time.Millisecond})
	testutil.WaitFor(t, 10*time.Second, "the sampler subscribed", ej.subscribed)
	ej.fire(Ejection{Time: time.Now(), Cluster: "greeter", Endpoint: "127.0.0.1:50053", Kind: EjectionHealth})
	var h History
	testutil.WaitFor(t, 20*time.Second, "history with points for every cluster", func() bool {
		code, body := r.get(t, "/history.json")
		if code != 200 || json.Unmarshal([]byte(body), &h) != nil || len(h.Clusters) != 3 {
			return false
		}
		for _, c := range h.Clusters {
			if len(c.Points) < 2 || len(c.Endpoints[0].Points) < 2 {
				return false
			}
		}
		return true
	})
	g := h.Clusters[1]
	if g.Name != "greeter" || len(g.Ejections) != 1 || g.Ejections[0].Kind != EjectionHealth {
		t.Fatalf("greeter's history %+v, want the drain marked", g)
	}
	if p := g.Points[len(g.Points)-1]; p.Rate <= 0 || p.P50 <= 0 || p.P99 < p.P50 {
		t.Fatalf("greeter's last point %+v, want traffic and p50 <= p99", p)
	}
	if h.IntervalSeconds != 0.02 {
		t.Fatalf("interval %v s, want 0.02", h.IntervalSeconds)
	}
}
