package lb

import (
	"context"
	"sync/atomic"

	"github.com/straitproxy/strait/health"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// picker is immutable: children[i] is the pick_first picker of the
// set's i-th endpoint.
type picker struct {
	pool     *Pool
	set      *Set
	children []balancer.Picker
}

// newPicker aligns the children's pickers with the set, which dropped any
// duplicate addresses.
func newPicker(pool *Pool, set *Set, addrs []string, pickers []balancer.Picker) *picker {
	byAddr := make(map[string]balancer.Picker, len(addrs))
	for i, a := range addrs {
		if _, ok := byAddr[a]; !ok {
			byAddr[a] = pickers[i]
		}
	}
	children := make([]balancer.Picker, set.Len())
	for i := range children {
		children[i] = byAddr[set.Endpoint(i).Addr()]
	}
	return &picker{pool: pool, set: set, children: children}
}

var errAllEjected = status.Error(codes.Unavailable, "lb: every endpoint refused the call")

// Pick chooses by P2C, admits through the breaker, delegates to the
// endpoint's pick_first picker and wraps Done to report the outcome.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	i, call, err := p.start()
	if err != nil {
		return balancer.PickResult{}, err
	}
	res, err := p.children[i].Pick(info)
	if err != nil {
		call.End(health.Ignore, nil)
		return res, err
	}
	if fr, ok := info.Ctx.Value(firstResponseKey{}).(*FirstResponse); ok {
		fr.call.Store(call)
	}
	ctx, childDone := info.Ctx, res.Done
	res.Done = func(d balancer.DoneInfo) {
		call.End(p.pool.Classify(ctx, d.Err), d.Err)
		if childDone != nil {
			childDone(d)
		}
	}
	return res, nil
}

// start picks and admits, picking again when a breaker refuses at the
// last moment (its half-open probe was just taken).
func (p *picker) start() (int, *Call, error) {
	for range 3 {
		i, ok := p.set.PickIndex()
		if !ok {
			break
		}
		if call, err := p.set.Endpoint(i).Start(); err == nil {
			return i, call, nil
		}
	}
	return 0, nil, errAllEjected
}

type firstResponseKey struct{}

// FirstResponse lets a proxy tell the balancer when a stream's first
// response arrived, so the latency estimate measures time to first
// response instead of the stream's lifetime. Without it the estimate uses
// the time until the call ends, which is right for unary calls.
type FirstResponse struct{ call atomic.Pointer[Call] }

// WithFirstResponse returns a context to start the upstream call with and
// the FirstResponse to Observe on that call's first response.
func WithFirstResponse(ctx context.Context) (context.Context, *FirstResponse) {
	fr := new(FirstResponse)
	return context.WithValue(ctx, firstResponseKey{}, fr), fr
}

// Observe records the first response of the call picked with this
// FirstResponse's context; later calls do nothing.
func (f *FirstResponse) Observe() {
	if c := f.call.Load(); c != nil {
		c.FirstResponse()
	}
}
