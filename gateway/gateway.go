// Package gateway wires a configuration into running parts: a discovery
// source and last-good guard per cluster, the balancer of each data path
// that reaches it (the relay's pool, a grpc.ClientConn, an L4 pool), and
// a proxy server per listener. It also reloads a new configuration
// into the running parts and drains them on shutdown.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/metrics"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/tracing"
)

// Gateway is strait running one configuration at a time.
type Gateway struct {
	log *slog.Logger

	// mu serialises Start, Reload and shutdown.
	mu        sync.Mutex
	cfg       *config.Config
	clusters  map[string]*cluster
	listeners []*listener
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	draining  atomic.Bool
	metrics   *metrics.Metrics
	registry  prometheus.Registerer
	replayMem *h2relay.ByteBudget // see replayMemory
	// budget bounds the bytes every relay listener holds for peers.
	budget *h2relay.Budget
	// tracer makes the relay listeners' spans; nil without tracing.
	tracer *tracing.Tracer
}

// SetMetrics makes every listener report to m, and registers per-listener
// collectors with reg. Call it before Start.
func (g *Gateway) SetMetrics(m *metrics.Metrics, reg prometheus.Registerer) {
	g.metrics, g.registry = m, reg
}

// New builds the clusters of cfg without starting them.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, clusters: map[string]*cluster{},
		budget: h2relay.NewBudget(cmp.Or(int64(cfg.Limits.BufferBudget), h2relay.DefaultBudget))}
	for name, cc := range cfg.Clusters {
		c, err := g.newCluster(cfg, name, cc)
		if err != nil {
			g.closeClusters()
			return nil, err
		}
		g.clusters[name] = c
	}
	if cfg.Tracing != nil {
		t, err := tracing.New(*cfg.Tracing)
		if err != nil {
			g.closeClusters()
			return nil, err
		}
		g.tracer = t
	}
	return g, nil
}

// Start runs discovery and binds every listener. It returns once all
// listeners are bound, or the first error. Listeners bind once every
// cluster's discovery has answered (up to firstSetWait), so the first
// calls find endpoints.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ctx, g.cancel = context.WithCancel(ctx)
	cs := make([]*cluster, 0, len(g.clusters))
	for _, c := range g.clusters {
		g.runCluster(c)
		cs = append(cs, c)
	}
	g.awaitFirstSets(cs)
	if g.registry != nil {
		_ = g.registry.Register(budgetCollector{g.budget})
	}
	for _, lc := range g.cfg.Listeners {
		l, err := g.startListener(lc)
		if err != nil {
			g.stopLocked()
			return fmt.Errorf("listener %s: %w", lc.Name, err)
		}
		g.listeners = append(g.listeners, l)
	}
	return nil
}

// Config returns the configuration now running.
func (g *Gateway) Config() *config.Config {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg
}

// Route names the cluster the first listener that routes method sends it
// to, for metrics labels.
func (g *Gateway) Route(method string) (string, bool) {
	g.mu.Lock()
	listeners := g.listeners
	g.mu.Unlock()
	for _, l := range listeners {
		if c, ok := l.route(method); ok {
			return c, true
		}
	}
	return "", false
}

// Addr returns the bound address of the named listener.
func (g *Gateway) Addr(name string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.listeners {
		if l.cfg.Name == name {
			return l.lis.Addr().String(), nil
		}
	}
	return "", errors.New("gateway: no listener " + name)
}

// Ready reports why the gateway should not take traffic yet, or nil: it
// is not draining, every listener is bound and every cluster has a set
// (synced, or served from a saved set).
func (g *Gateway) Ready() error {
	if g.draining.Load() {
		return errors.New("draining")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.listeners) != len(g.cfg.Listeners) {
		return errors.New("listeners not bound")
	}
	for name, c := range g.clusters {
		select {
		case <-c.guard.Ready():
		default:
			return fmt.Errorf("cluster %s: discovery has not answered yet", name)
		}
	}
	return nil
}

// Shutdown drains: readiness turns false, listeners stop accepting and
// send GOAWAY, in-flight calls run until they end or ctx does; then
// everything stops.
func (g *Gateway) Shutdown(ctx context.Context) {
	g.draining.Store(true)
	g.mu.Lock()
	defer g.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range g.listeners {
		wg.Go(func() { l.shutdown(ctx) })
	}
	wg.Wait()
	g.stopLocked()
}

// Stop closes everything at once.
func (g *Gateway) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopLocked()
}

func (g *Gateway) stopLocked() {
	for _, l := range g.listeners {
		l.stop()
	}
	if g.cancel != nil {
		g.cancel()
	}
	g.wg.Wait()
	g.closeClusters()
	if g.tracer != nil {
		// The spans of the calls just ended go out, within a bound.
		ctx, cancel := context.WithTimeout(context.Background(), tracerFlush)
		_ = g.tracer.Shutdown(ctx)
		cancel()
		g.tracer = nil
	}
}

// tracerFlush bounds the export of the last spans on shutdown.
const tracerFlush = 5 * time.Second

func (g *Gateway) closeClusters() {
	for _, c := range g.clusters {
		c.close()
	}
}
