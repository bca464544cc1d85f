package lb

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/straitproxy/strait/health"
)

func TestRegistryShareAndRelease(t *testing.T) {
	r := NewRegistry()
	a, releaseA := r.Acquire("c", Options{})
	b, releaseB := r.Acquire("c", Options{})
	if a != b {
		t.Fatal("same cluster and options must share a pool")
	}
	c, releaseC := r.Acquire("c", Options{Tau: time.Second})
	if c == a {
		t.Fatal("new options must build a new pool")
	}
	if p, _ := r.Pool("c"); p != c {
		t.Fatal("the newest pool must be the registered one")
	}
	releaseA()
	releaseA() // idempotent
	releaseB()
	if _, ok := r.Pool("c"); !ok {
		t.Fatal("releasing the old pool removed the new one")
	}
	releaseC()
	if _, ok := r.Pool("c"); ok {
		t.Fatal("pool kept after its last release")
	}
}

func TestCollector(t *testing.T) {
	clk := newClock()
	r := NewRegistry(WithClock(clk.now), WithRand(seeded(3)))
	p, release := r.Acquire("users", Options{})
	defer release()
	p.Update([]string{"a:1", "b:1"})
	bad := p.Current().Endpoint(1)
	for range health.DefaultConsecutiveFailures {
		serve(p, clk, bad, time.Millisecond, true)
	}
	want := `
# HELP strait_lb_endpoint_breaker_state Breaker position: 0 closed, 1 half-open, 2 open (ejected).
# TYPE strait_lb_endpoint_breaker_state gauge
strait_lb_endpoint_breaker_state{cluster="users",endpoint="a:1"} 0
strait_lb_endpoint_breaker_state{cluster="users",endpoint="b:1"} 2
# HELP strait_lb_endpoint_ejections_total Times the endpoint was ejected by its breaker.
# TYPE strait_lb_endpoint_ejections_total counter
strait_lb_endpoint_ejections_total{cluster="users",endpoint="a:1"} 0
strait_lb_endpoint_ejections_total{cluster="users",endpoint="b:1"} 1
# HELP strait_lb_ejected_endpoints Member endpoints whose breaker is not closed.
# TYPE strait_lb_ejected_endpoints gauge
strait_lb_ejected_endpoints{cluster="users"} 1
`
	if err := testutil.CollectAndCompare(r, strings.NewReader(want),
		"strait_lb_endpoint_breaker_state", "strait_lb_endpoint_ejections_total", "strait_lb_ejected_endpoints"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(r, "strait_lb_endpoint_latency_estimate_seconds"); n != 2 {
		t.Fatalf("%d estimate series, want 2", n)
	}
	if st := r.Stats(); len(st) != 1 || st[0].Endpoints[1].Failures != uint64(health.DefaultConsecutiveFailures) {
		t.Fatalf("stats %+v", st)
	}
}
