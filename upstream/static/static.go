// Package static is the discovery backend for a fixed list of endpoints.
package static

import (
	"context"

	"github.com/straitproxy/strait/upstream"
)

// Source reports one fixed set and then waits for ctx.
type Source struct {
	endpoints []upstream.Endpoint
}

var _ upstream.Source = (*Source)(nil)

// New returns a Source for the given host:port addresses.
func New(addrs []string) *Source {
	eps := make([]upstream.Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = upstream.Endpoint{Addr: a}
	}
	return &Source{endpoints: eps}
}

// Run emits the fixed set once and returns when ctx is done.
func (s *Source) Run(ctx context.Context, emit func(upstream.Update)) {
	emit(upstream.Update{Endpoints: s.endpoints})
	<-ctx.Done()
}
