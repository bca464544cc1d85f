package k8s

import (
	"context"
	"errors"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// storeInformer is the part of the informer that update reads.
type storeInformer interface {
	HasSynced() bool
	GetStore() cache.Store
}

// syncPoll is how often waitSynced looks at the informer until its first
// list is in the store.
const syncPoll = 20 * time.Millisecond

// newInformer returns an informer on the target service's slices that
// pokes on every event and on every change of the API server's health.
func (s *Source) newInformer(poke chan<- struct{}) cache.SharedIndexInformer {
	inf := cache.NewSharedIndexInformerWithOptions(s.listWatch(poke), &discoveryv1.EndpointSlice{},
		cache.SharedIndexInformerOptions{ObjectDescription: "endpointslices for " + s.target.String()})
	// The set is rebuilt from the store, so a delete delivered as a
	// DeletedFinalStateUnknown tombstone (missed while disconnected, found
	// on relist) is already gone from it: events only wake the loop.
	wake := func(any) { notify(poke) }
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    wake,
		UpdateFunc: func(_, _ any) { notify(poke) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				s.log.Debug("endpointslice deleted while disconnected", "slice", t.Key)
			}
			notify(poke)
		},
	})
	// Errors that end a list-and-watch cycle arrive here; an expired
	// resource version only means "relist", not an outage.
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return
		}
		s.observe("watch", err, poke)
	})
	return inf
}

// listWatch lists and watches the slices labelled with the service's name.
// It reports every call's outcome, because the reflector retries a refused
// watch by itself without calling the error handler (and that is exactly
// what an API server that is down looks like), and it retries calls that
// do not reach the API server at its own pace (see retry).
func (s *Source) listWatch(poke chan<- struct{}) *cache.ListWatch {
	ns := s.target.Namespace
	selector := discoveryv1.LabelServiceName + "=" + s.target.Service
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return untilReachable(ctx, s, "list", poke, func() (runtime.Object, error) { return s.client.list(ctx, ns, o) })
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return untilReachable(ctx, s, "watch", poke, func() (watch.Interface, error) { return s.client.watch(ctx, ns, o) })
		},
	}
}

// retry paces calls to an API server that cannot be reached. The
// reflector's own back-off grows to 30 s and informers do not expose it:
// after a 10 s outage the set could stay stale for half a minute more.
var retry = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 8, Cap: time.Second}

// untilReachable makes call until the API server answers (an error status
// is an answer) or ctx ends, and reports every outcome to s.
func untilReachable[T any](ctx context.Context, s *Source, verb string, poke chan<- struct{}, call func() (T, error)) (T, error) {
	b := retry
	for {
		v, err := call()
		if ctx.Err() != nil {
			return v, err
		}
		s.observe(verb, err, poke)
		var status apierrors.APIStatus
		if err == nil || errors.As(err, &status) {
			return v, err
		}
		t := time.NewTimer(b.Step())
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
	}
}

// waitSynced pokes once the informer's first list is in its store: an
// empty first list has no event of its own to wake the loop.
func waitSynced(ctx context.Context, inf storeInformer, poke chan<- struct{}) {
	t := time.NewTicker(syncPoll)
	defer t.Stop()
	for !inf.HasSynced() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	notify(poke)
}
