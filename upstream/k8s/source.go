// Package k8s is the discovery backend for Kubernetes: it reads a
// service's discovery.k8s.io/v1 EndpointSlices with a client-go informer
// and reports the ready endpoints as whole sets.
package k8s

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-logr/logr"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/straitproxy/strait/upstream"
)

// Source watches the EndpointSlices of one service.
type Source struct {
	target Target
	client *sliceClient
	log    *slog.Logger
	rbac   *rbacNotes

	mu      sync.Mutex
	failure error // the API server's latest failure; nil once it answers
	empty   bool  // the last set reported was empty (warned once)
}

var _ upstream.Source = (*Source)(nil)

// New returns a Source for cfg. It only builds the client: nothing is
// contacted until Run.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	target, _ := ParseTarget(cfg.Target)
	rc, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	client, err := newSliceClient(rc)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("target", target.String())
	return &Source{
		target: target,
		client: client,
		log:    log,
		rbac:   newRBACNotes(log, target.Namespace),
	}, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: empty, and not in a cluster: %w", err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return rc, nil
}

// Run watches the service's slices and reports the set on every change,
// or an error while the API server fails, until ctx is done.
func (s *Source) Run(ctx context.Context, emit func(upstream.Update)) {
	// client-go logs through the context's logger: route it to ours.
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(s.log.Handler()))
	ctx, cancel := context.WithCancel(ctx)
	poke := make(chan struct{}, 1)
	inf := s.newInformer(poke)
	var wg sync.WaitGroup
	wg.Go(func() { inf.RunWithContext(ctx) })
	wg.Go(func() { waitSynced(ctx, inf, poke) })
	defer wg.Wait()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poke:
		}
		if u, ok := s.update(inf); ok {
			emit(u)
		}
	}
}

// update builds what to report now: the failure, or the set in the
// informer's store once it has listed. Events coalesce in poke, so the set
// is always rebuilt from the store rather than from one event.
func (s *Source) update(inf storeInformer) (upstream.Update, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure != nil {
		return upstream.Update{Err: s.failure}, true
	}
	if !inf.HasSynced() {
		return upstream.Update{}, false
	}
	var slices []*discoveryv1.EndpointSlice
	for _, obj := range inf.GetStore().List() {
		if sl, ok := obj.(*discoveryv1.EndpointSlice); ok {
			slices = append(slices, sl)
		}
	}
	eps := endpointsOf(slices, s.target.Port)
	if len(eps) == 0 && !s.empty {
		s.log.Warn("kubernetes reports no ready endpoints for the service; applying the empty set",
			"slices", len(slices))
	}
	s.empty = len(eps) == 0
	return upstream.Update{Endpoints: eps}, true
}

// observe records the outcome of a call to the API server and pokes the
// loop when the API server's health changes.
func (s *Source) observe(verb string, err error, poke chan<- struct{}) {
	s.mu.Lock()
	was := s.failure
	if err != nil {
		s.failure = fmt.Errorf("kubernetes %s endpointslices in %s: %w", verb, s.target.Namespace, err)
	} else {
		s.failure = nil
	}
	s.mu.Unlock()
	if err != nil {
		s.rbac.note(verb, err)
	}
	if was == nil && err == nil {
		return
	}
	if err == nil {
		s.log.Info("kubernetes API server answers again")
	}
	notify(poke)
}

func notify(poke chan<- struct{}) {
	select {
	case poke <- struct{}{}:
	default:
	}
}
