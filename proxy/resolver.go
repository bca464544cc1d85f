package proxy

import (
	"sync"

	"github.com/straitproxy/strait/upstream"
	"google.golang.org/grpc/resolver"
)

// scheme is the resolver scheme of cluster targets, "strait:///<cluster>".
const scheme = "strait"

// guardResolver feeds one ClientConn with its cluster's sets. A stale set
// is sent like any other: the registry failing must not empty the
// ClientConn, and the balancer isolates endpoints that really are down.
type guardResolver struct {
	guard *upstream.Guard
}

var _ resolver.Builder = guardResolver{}

func (b guardResolver) Scheme() string { return scheme }

func (b guardResolver) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	r := &subscription{}
	r.cancel = b.guard.Subscribe(func(s upstream.Snapshot) {
		if s.State == upstream.NeverSynced && s.LastErr == nil {
			return
		}
		_ = cc.UpdateState(resolver.State{Endpoints: toEndpoints(s.Endpoints)})
	})
	return r, nil
}

func toEndpoints(eps []upstream.Endpoint) []resolver.Endpoint {
	out := make([]resolver.Endpoint, len(eps))
	for i, e := range eps {
		out[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: e.Addr}}}
	}
	return out
}

type subscription struct {
	once   sync.Once
	cancel func()
}

// ResolveNow does nothing: sets are pushed as the Guard learns them.
func (r *subscription) ResolveNow(resolver.ResolveNowOptions) {}

func (r *subscription) Close() { r.once.Do(r.cancel) }
