package lb

import (
	"testing"
	"time"

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

func TestRegistryPoolStats(t *testing.T) {
	clk := newClock()
	r := NewRegistry(WithClock(clk.now), WithRand(seeded(3)))
	p, release := r.Acquire("users", Options{})
	defer release()
	ejectSecond(p, clk)
	got, ok := r.Pool("users")
	if !ok || got != p || len(r.Pools()) != 1 {
		t.Fatalf("registry pools %v, want only users", r.Pools())
	}
	if st := got.Stats(); st.Endpoints[1].Failures != uint64(health.DefaultConsecutiveFailures) {
		t.Fatalf("stats %+v", st)
	}
}

// ejectSecond gives p the members a:1 and b:1 and fails b:1 until its
// breaker opens; it returns b:1.
func ejectSecond(p *Pool, clk *fakeClock) *Endpoint {
	p.Update([]string{"a:1", "b:1"})
	bad := p.Current().Endpoint(1)
	for range health.DefaultConsecutiveFailures {
		serve(p, clk, bad, time.Millisecond, true)
	}
	return bad
}
