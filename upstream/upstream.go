// Package upstream holds the upstream sets that strait balances over: the
// Endpoint and Snapshot types, the Source interface that discovery backends
// implement, and the Guard that keeps the last good set while a registry is
// failing.
//
// Sources emit whole sets, never deltas; a backend that receives deltas
// folds them itself. One sub-package per backend keeps a user of one from
// linking the others' clients.
package upstream

import (
	"context"
	"slices"
	"strings"
)

// Endpoint is one upstream address a cluster can send traffic to.
type Endpoint struct {
	// Addr is host:port. The host may be an IP or a name to resolve.
	Addr string
	// Metadata is optional data a registry attached to the endpoint.
	Metadata map[string]string
}

// Update is what a Source reports: a complete set, or an error.
// When Err is non-nil Endpoints is ignored: a failing registry never
// clears or shrinks a set.
type Update struct {
	Endpoints []Endpoint
	Err       error
}

// Source discovers the endpoints of one cluster.
type Source interface {
	// Run reports updates through emit until ctx is done, then returns.
	// emit is called from one goroutine at a time. The first call should
	// come as soon as the existing set is known (or the first attempt to
	// learn it failed).
	Run(ctx context.Context, emit func(Update))
}

// Normalize returns the endpoints sorted by address with duplicates
// removed, so equal sets compare equal.
func Normalize(eps []Endpoint) []Endpoint {
	out := slices.Clone(eps)
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	return slices.CompactFunc(out, func(a, b Endpoint) bool { return a.Addr == b.Addr })
}

// Addrs returns the addresses of eps, in order.
func Addrs(eps []Endpoint) []string {
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = e.Addr
	}
	return out
}
