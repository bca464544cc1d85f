package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/upstream"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stepSource is a Source driven by the test: push hands it one update and
// returns once the Guard has applied it. A real registry is not needed to
// test the Guard's rules; the etcd package tests them against real etcd.
type stepSource struct {
	in  chan upstream.Update
	ack chan struct{}
}

func newStepSource() *stepSource {
	return &stepSource{in: make(chan upstream.Update), ack: make(chan struct{})}
}

func (s *stepSource) Run(ctx context.Context, emit func(upstream.Update)) {
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-s.in:
			emit(u)
			s.ack <- struct{}{}
		}
	}
}

func (s *stepSource) push(u upstream.Update) {
	s.in <- u
	<-s.ack
}

func set(addrs ...string) upstream.Update {
	eps := make([]upstream.Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = upstream.Endpoint{Addr: a}
	}
	return upstream.Update{Endpoints: eps}
}

// runGuard runs a Guard over a stepSource until the test ends.
func runGuard(t *testing.T, saved *upstream.SavedSets) (*upstream.Guard, *stepSource) {
	t.Helper()
	src := newStepSource()
	g, _ := guardtest.Run(t, "user", src, saved)
	return g, src
}

func expect(t *testing.T, g *upstream.Guard, st upstream.State, addrs ...string) {
	t.Helper()
	s := g.Snapshot()
	if s.State != st || !slices.Equal(upstream.Addrs(s.Endpoints), addrs) {
		t.Fatalf("snapshot = %v %v, want %v %v", s.State, upstream.Addrs(s.Endpoints), st, addrs)
	}
}

func TestGuardFreezesOnErrorAndAppliesRemovals(t *testing.T) {
	g, src := runGuard(t, nil)
	expect(t, g, upstream.NeverSynced)
	src.push(set("b:1", "a:1", "b:1"))
	expect(t, g, upstream.Synced, "a:1", "b:1")

	boom := errors.New("etcd down")
	src.push(upstream.Update{Err: boom, Endpoints: nil})
	expect(t, g, upstream.Stale, "a:1", "b:1")
	if s := g.Snapshot(); !errors.Is(s.LastErr, boom) || s.LastSync.IsZero() {
		t.Errorf("stale snapshot = %+v, want LastErr %v and LastSync kept", s, boom)
	}
	src.push(upstream.Update{Err: boom})
	expect(t, g, upstream.Stale, "a:1", "b:1")

	src.push(set("a:1"))
	expect(t, g, upstream.Synced, "a:1")
	if s := g.Snapshot(); s.LastErr != nil {
		t.Errorf("LastErr = %v after a sync", s.LastErr)
	}
	src.push(set())
	expect(t, g, upstream.Synced)
}

func TestGuardPublishesMetadataChanges(t *testing.T) {
	g, src := runGuard(t, nil)
	var seen []upstream.Snapshot
	cancel := g.Subscribe(func(s upstream.Snapshot) { seen = append(seen, s) })
	defer cancel()
	src.push(upstream.Update{Endpoints: []upstream.Endpoint{{Addr: "a:1", Metadata: map[string]string{"w": "1"}}}})
	src.push(upstream.Update{Endpoints: []upstream.Endpoint{{Addr: "a:1", Metadata: map[string]string{"w": "1"}}}})
	src.push(upstream.Update{Endpoints: []upstream.Endpoint{{Addr: "a:1", Metadata: map[string]string{"w": "2"}}}})
	if len(seen) != 3 {
		t.Fatalf("subscriber saw %d snapshots, want 3 (initial, first set, new metadata)", len(seen))
	}
	if w := seen[2].Endpoints[0].Metadata["w"]; w != "2" {
		t.Errorf("metadata w = %q, want 2", w)
	}
}

func TestGuardReadyOnFirstReport(t *testing.T) {
	g, src := runGuard(t, nil)
	select {
	case <-g.Ready():
		t.Fatal("ready before any report")
	default:
	}
	src.push(upstream.Update{Err: errors.New("etcd down")})
	select {
	case <-g.Ready():
	default:
		t.Fatal("not ready after the first report (an error)")
	}
	expect(t, g, upstream.NeverSynced)
}

func TestGuardWarmStartFromSavedSet(t *testing.T) {
	saved, err := upstream.NewSavedSets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, src := runGuard(t, saved)
	src.push(set("a:1", "b:1"))
	expect(t, g, upstream.Synced, "a:1", "b:1")
	got, err := saved.Load("user")
	if err != nil || !slices.Equal(upstream.Addrs(got), []string{"a:1", "b:1"}) {
		t.Fatalf("saved = %v, %v; want a:1 b:1", got, err)
	}

	// Next run: the registry is down from the start.
	g, src = runGuard(t, saved)
	src.push(upstream.Update{Err: errors.New("etcd down")})
	expect(t, g, upstream.Stale, "a:1", "b:1")
	src.push(set("c:1"))
	expect(t, g, upstream.Synced, "c:1")
	if got, _ := saved.Load("user"); !slices.Equal(upstream.Addrs(got), []string{"c:1"}) {
		t.Errorf("saved = %v after sync, want c:1", got)
	}
	// Once the registry has answered in this run, an error keeps this
	// run's set, not the saved one.
	src.push(upstream.Update{Err: errors.New("etcd down")})
	expect(t, g, upstream.Stale, "c:1")
}

func TestGuardIgnoresSavedSetWhenRegistryAnswers(t *testing.T) {
	saved, err := upstream.NewSavedSets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.Save("user", set("old:1").Endpoints); err != nil {
		t.Fatal(err)
	}
	g, src := runGuard(t, saved)
	src.push(set("new:1"))
	expect(t, g, upstream.Synced, "new:1")
}

// TestGuardSubscriberOrdering: subscribers that join while sets change see
// every set from theirs on, in order, and end on the last one.
func TestGuardSubscriberOrdering(t *testing.T) {
	g, src := runGuard(t, nil)
	const sets = 200
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex
			last := -1
			var bad error
			done := make(chan struct{})
			var once sync.Once
			cancel := g.Subscribe(func(s upstream.Snapshot) {
				mu.Lock()
				defer mu.Unlock()
				if n := len(s.Endpoints); n != last+1 && last >= 0 || n < last {
					bad = fmt.Errorf("subscriber %d: set of %d after %d", i, n, last)
				}
				last = len(s.Endpoints)
				if bad != nil || last == sets {
					once.Do(func() { close(done) })
				}
			})
			defer cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
			}
			mu.Lock()
			l, b := last, bad
			mu.Unlock()
			if b == nil && l != sets {
				b = fmt.Errorf("subscriber %d ended on %d endpoints", i, l)
			}
			errs <- b
		}()
	}
	addrs := []string{}
	for i := 1; i <= sets; i++ {
		addrs = append(addrs, fmt.Sprintf("10.0.0.1:%d", 1000+i))
		src.push(set(addrs...))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
