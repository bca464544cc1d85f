package gateway

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/accesslog"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/tcpproxy"
)

// logConn writes an access log line for each finished L4 connection.
func logConn(listener string, alog *accesslog.Logger) func(tcpproxy.ConnEnd) {
	return func(e tcpproxy.ConnEnd) {
		if !alog.Sampled(e.How != tcpproxy.EndClosed) {
			return
		}
		alog.Conn(&accesslog.Conn{Time: e.Accepted, Listener: listener, Client: e.Client, Endpoint: e.Endpoint,
			FromClient: e.FromClient, FromEndpoint: e.FromEndpoint, Duration: e.Duration, End: e.How})
	}
}

// tcpListener is an L4 listener: a TCP proxy balancing over an lb pool of
// its own for the cluster (connect times and RPC latencies do not mix, and
// the gRPC balancer admits only endpoints that speak HTTP/2), following the
// cluster's discovery.
type tcpListener struct {
	proxy *tcpproxy.Proxy
	bal   swapBalancer

	mu   sync.Mutex
	undo func()
}

func (g *Gateway) startTCP(lc config.Listener, lis net.Listener, alog *accesslog.Logger) *tcpListener {
	opts := lc.TCP
	if g.metrics != nil {
		opts.Observer = tcpproxy.MetricsObserver(g.metrics, lc.Cluster)
	}
	if alog != nil {
		opts.Finished = logConn(lc.Name, alog)
	}
	t := &tcpListener{}
	t.proxy = tcpproxy.New(opts, &t.bal, g.log)
	if g.registry != nil {
		// Every L4 listener describes the same metrics (told apart by
		// their labels): registered as checked collectors, the second
		// would be refused as a duplicate and its series lost.
		if err := g.registry.Register(uncheckedCollector{t.proxy}); err != nil {
			g.log.Error("tcp listener metrics not registered", "listener", lc.Name, "err", err)
		}
	}
	t.follow(g.clusters[lc.Cluster])
	g.wg.Go(func() { _ = t.proxy.Serve(lis) })
	return t
}

// follow balances over c's pool and set from now on, and lets go of the
// cluster followed before (after a reload).
func (t *tcpListener) follow(c *cluster) {
	pool, release := lb.DefaultRegistry.Acquire(tcpPoolName(c.name), c.cfg.Balancer)
	pb := tcpproxy.NewPoolBalancer(pool)
	var prober *health.Prober
	if hc := c.cfg.Balancer.WithDefaults().HealthCheck; hc.Enabled {
		prober = health.NewProber(health.TCP(), hc.Interval, hc.Timeout, pool.SetServing)
		pb.WithProber(prober)
	}
	unfollow := pb.Follow(c.guard, t.proxy)
	t.bal.p.Store(pb)
	t.mu.Lock()
	prev := t.undo
	t.undo = func() {
		unfollow()
		if prober != nil {
			prober.Close()
		}
		release()
	}
	t.mu.Unlock()
	if prev != nil {
		prev()
	}
}

func (t *tcpListener) stopFollowing() {
	t.mu.Lock()
	undo := t.undo
	t.undo = nil
	t.mu.Unlock()
	if undo != nil {
		undo()
	}
}

// swapBalancer lets a reload move a running TCP proxy to another pool.
type swapBalancer struct {
	p atomic.Pointer[tcpproxy.PoolBalancer]
}

func (s *swapBalancer) Pick() (tcpproxy.Endpoint, bool) { return s.p.Load().Pick() }

// uncheckedCollector registers a collector without its descriptions, so
// that several may export the same metric names with distinct labels;
// the registry still checks what they collect.
type uncheckedCollector struct{ c prometheus.Collector }

func (uncheckedCollector) Describe(chan<- *prometheus.Desc) {}

func (u uncheckedCollector) Collect(ch chan<- prometheus.Metric) { u.c.Collect(ch) }
