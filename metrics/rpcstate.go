package metrics

import (
	"context"
	"sync"
)

// rpcState is one call's bookkeeping between TagRPC and End.
type rpcState struct {
	m *methodMetrics

	// mu guards picked: the balancer may pick again (a transparent
	// retry) on another goroutine than the one ending the call.
	mu     sync.Mutex
	picked string
}

func (st *rpcState) endpoint() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.picked == "" {
		return NoEndpoint
	}
	return st.picked
}

// rpcCtx carries rpcState in the call's context. Embedding the parent
// instead of using context.WithValue makes tagging one allocation.
type rpcCtx struct {
	context.Context
	st rpcState
}

type stateKey struct{}

// Value returns the call's state for stateKey and defers to the parent
// otherwise.
func (c *rpcCtx) Value(key any) any {
	if key == (stateKey{}) {
		return &c.st
	}
	return c.Context.Value(key)
}

func stateFrom(ctx context.Context) *rpcState {
	st, _ := ctx.Value(stateKey{}).(*rpcState)
	return st
}

// PickedEndpoint records which endpoint serves the call whose context
// (or a context derived from it, such as the upstream call's) is ctx.
// The balancer's picker calls it with balancer.PickInfo.Ctx; the last
// pick of a call wins. Calls that never pick are counted with endpoint
// NoEndpoint. Without a StatsHandler on the server it does nothing.
func PickedEndpoint(ctx context.Context, addr string) {
	st := stateFrom(ctx)
	if st == nil {
		return
	}
	st.mu.Lock()
	st.picked = addr
	st.mu.Unlock()
}
