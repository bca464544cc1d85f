package k8s_test

import (
	"context"
	"github.com/straitproxy/strait/internal/testutil"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/k8s"
)

// watched is a Source for a target, run behind a Guard as strait runs it,
// with every set the Guard published and when it first appeared.
type watched struct {
	guard *upstream.Guard
	logs  *logBuffer

	mu    sync.Mutex
	first map[string]time.Time // set key -> first published
	last  upstream.Snapshot
	pubs  int
}

// watch runs discovery for target with the given kubeconfig until the
// test ends. saved, if not nil, keeps the Guard's last good sets.
func watch(t *testing.T, target, kubeconfig string, saved ...*upstream.SavedSets) *watched {
	t.Helper()
	w := &watched{logs: &logBuffer{}, first: map[string]time.Time{}}
	log := slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := k8s.New(k8s.Config{Target: target, Kubeconfig: kubeconfig}, log)
	if err != nil {
		t.Fatal(err)
	}
	w.guard = upstream.NewGuard(t.Name(), src, log)
	for _, s := range saved {
		w.guard.WithSavedSets(s)
	}
	cancelSub := w.guard.Subscribe(w.record)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.guard.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cancelSub()
		if t.Failed() {
			t.Logf("discovery log:\n%s", w.logs.String())
		}
	})
	return w
}

func (w *watched) record(s upstream.Snapshot) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last, w.pubs = s, w.pubs+1
	if s.State != upstream.Synced {
		return
	}
	k := key(upstream.Addrs(s.Endpoints))
	if _, ok := w.first[k]; !ok {
		w.first[k] = now
	}
}

func key(addrs []string) string {
	addrs = slices.Clone(addrs)
	slices.Sort(addrs)
	return strings.Join(addrs, ",")
}

// waitSet waits until the Guard serves exactly addrs as a synced set and
// returns when that set was first published.
func (w *watched) waitSet(t *testing.T, addrs ...string) time.Time {
	t.Helper()
	return w.waitSetWithin(t, mustHappen, addrs...)
}

// waitSetWithin is waitSet with its own timeout.
func (w *watched) waitSetWithin(t *testing.T, timeout time.Duration, addrs ...string) time.Time {
	t.Helper()
	want := key(addrs)
	var at time.Time
	testutil.WaitFor(t, timeout, "set ["+want+"]", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		at = w.first[want]
		return w.last.State == upstream.Synced && key(upstream.Addrs(w.last.Endpoints)) == want
	})
	return at
}

// forget drops the record of when addrs first appeared, so a set seen
// before can be timed again.
func (w *watched) forget(addrs ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.first, key(addrs))
}

func (w *watched) snapshot() (upstream.Snapshot, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.pubs
}
