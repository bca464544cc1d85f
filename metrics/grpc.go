package metrics

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// methodMetrics is the cached label children of one method.
type methodMetrics struct {
	cluster, method string
	requests        *prometheus.CounterVec
	endpoints       *endpointSet
	duration        prometheus.Observer
	inFlight        prometheus.Gauge

	// counters per (endpoint, code), copy on write.
	counters   atomic.Pointer[map[counterKey]prometheus.Counter]
	countersMu sync.Mutex
}

type counterKey struct {
	endpoint string
	code     codes.Code
}

// StatsHandler returns the stats.Handler to install on the proxy's
// grpc.Server (grpc.StatsHandler). It counts every call by cluster,
// endpoint, method and code, times it, and tracks it in flight. Per call
// it allocates one context; label children are cached.
func (m *Metrics) StatsHandler() stats.Handler { return (*serverHandler)(m) }

type serverHandler Metrics

var _ stats.Handler = (*serverHandler)(nil)

// TagRPC attaches the call's state, found again by HandleRPC and
// PickedEndpoint.
func (h *serverHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return &rpcCtx{Context: ctx, st: rpcState{m: (*Metrics)(h).lookup(info.FullMethodName)}}
}

// HandleRPC counts a call in flight at Begin and out at End.
func (h *serverHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if s.IsClient() {
		return
	}
	st := stateFrom(ctx)
	if st == nil {
		return
	}
	switch s := s.(type) {
	case *stats.Begin:
		st.m.inFlight.Inc()
	case *stats.End:
		st.m.inFlight.Dec()
		st.m.duration.Observe(s.EndTime.Sub(s.BeginTime).Seconds())
		st.m.counter(st.endpoint(), status.Code(s.Error)).Inc()
	}
}

// TagConn returns ctx: connections are not counted here.
func (h *serverHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

// HandleConn does nothing.
func (h *serverHandler) HandleConn(context.Context, stats.ConnStats) {}

func (m *Metrics) newMethodMetrics(cluster, method string) *methodMetrics {
	mm := &methodMetrics{
		cluster:   cluster,
		method:    method,
		requests:  m.requests,
		endpoints: &m.endpoints,
		duration:  m.duration.WithLabelValues(cluster, method),
		inFlight:  m.inFlight.WithLabelValues(cluster, method),
	}
	empty := map[counterKey]prometheus.Counter{}
	mm.counters.Store(&empty)
	return mm
}

func (mm *methodMetrics) counter(endpoint string, code codes.Code) prometheus.Counter {
	key := counterKey{endpoint, code}
	if c, ok := (*mm.counters.Load())[key]; ok {
		return c
	}
	mm.countersMu.Lock()
	defer mm.countersMu.Unlock()
	cur := *mm.counters.Load()
	if c, ok := cur[key]; ok {
		return c
	}
	mm.endpoints.add(mm.cluster, endpoint)
	c := mm.requests.WithLabelValues(mm.cluster, endpoint, mm.method, code.String())
	next := maps.Clone(cur)
	next[key] = c
	mm.counters.Store(&next)
	return c
}

// Call is the label children of one method for a data path that has no
// grpc stats handler (the HTTP/2 relay). StartCall counts a call in
// flight and returns it; the call's end must go to the same Call, so
// that a reload relabelling the method between the two cannot unbalance
// the gauge. It holds no per-call state: starting a call allocates
// nothing once the method has been seen.
type Call methodMetrics

// StartCall counts a call of method in flight. Call End on the result
// exactly once when the call ends, however it ends.
func (m *Metrics) StartCall(method string) *Call {
	mm := m.lookup(method)
	mm.inFlight.Inc()
	return (*Call)(mm)
}

// End counts the call out of flight and records it finished: the same
// request counter and latency histogram as the stats handler's. An empty
// endpoint means none was picked.
func (c *Call) End(endpoint string, code codes.Code, took time.Duration) {
	mm := (*methodMetrics)(c)
	if endpoint == "" {
		endpoint = NoEndpoint
	}
	mm.inFlight.Dec()
	mm.duration.Observe(took.Seconds())
	mm.counter(endpoint, code).Inc()
}
