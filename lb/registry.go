package lb

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Registry holds the pools of the running clusters, so that the gRPC
// balancer (built by grpc-go, not by us) finds its cluster's pool and the
// admin page and metrics see every pool. Safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	pools map[string]*entry
	opts  []PoolOption

	listeners listeners
}

type entry struct {
	pool *Pool
	refs int
}

// DefaultRegistry is where the gRPC balancer registers its pools.
var DefaultRegistry = NewRegistry()

// NewRegistry returns an empty registry whose pools are built with opts.
func NewRegistry(opts ...PoolOption) *Registry {
	return &Registry{pools: make(map[string]*entry), opts: opts}
}

// Acquire returns the pool of cluster, building it if there is none or if
// the existing one has other options (a configuration reload), and a
// release function to call once the caller is done with it. The pool
// leaves the registry when its last holder releases it.
func (r *Registry) Acquire(cluster string, o Options) (*Pool, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.pools[cluster]
	if e == nil || !reflect.DeepEqual(e.pool.opts, o.WithDefaults()) {
		opts := append(r.opts[:len(r.opts):len(r.opts)], WithEvents(r.publish))
		e = &entry{pool: NewPool(cluster, o, opts...)}
		r.pools[cluster] = e
	}
	e.refs++
	var once sync.Once
	return e.pool, func() { once.Do(func() { r.release(cluster, e) }) }
}

func (r *Registry) release(cluster string, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.refs--
	if e.refs == 0 && r.pools[cluster] == e {
		delete(r.pools, cluster)
	}
}

// Pool returns the registered pool of cluster, if any.
func (r *Registry) Pool(cluster string) (*Pool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.pools[cluster]
	if !ok {
		return nil, false
	}
	return e.pool, true
}

// Pools returns the registered pools sorted by cluster name.
func (r *Registry) Pools() []*Pool {
	r.mu.Lock()
	out := make([]*Pool, 0, len(r.pools))
	for _, e := range r.pools {
		out = append(out, e.pool)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *Pool) int { return strings.Compare(a.cluster, b.cluster) })
	return out
}
