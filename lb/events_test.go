package lb

import (
	"slices"
	"sync"
	"testing"
)

// recorder keeps the events a subscriber hears.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

func TestRegistryReportsEjectionsAndDrains(t *testing.T) {
	clk := newClock()
	r := NewRegistry(WithClock(clk.now), WithRand(seeded(5)))
	var rec recorder
	cancel := r.Subscribe(rec.add)
	p, release := r.Acquire("users", Options{})
	defer release()
	bad := ejectSecond(p, clk)
	opened := clk.now()
	p.SetServing("a:1", false)
	p.SetServing("a:1", false) // no change, no event

	want := []Event{
		{Pool: "users", Addr: bad.Addr(), Kind: EventBreakerOpen, At: opened},
		{Pool: "users", Addr: "a:1", Kind: EventHealthDrain, At: opened},
	}
	if got := rec.events(); !slices.Equal(got, want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}

	cancel()
	p.SetServing("a:1", true)
	p.SetServing("a:1", false)
	if got := rec.events(); len(got) != len(want) {
		t.Fatalf("events after cancel: %+v", got[len(want):])
	}
}
