// Package gateway wires a configuration into running parts: a discovery
// source and last-good guard per cluster, a grpc.ClientConn per cluster,
// and a proxy server per listener. It also reloads a new configuration
// into the running parts and drains them on shutdown.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/internal/tlsfiles"
	"github.com/straitproxy/strait/metrics"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
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
}

// SetMetrics makes every listener report to m, and registers per-listener
// collectors with reg. Call it before Start.
func (g *Gateway) SetMetrics(m *metrics.Metrics, reg prometheus.Registerer) {
	g.metrics, g.registry = m, reg
}

// listener is one bound listener: the HTTP/2 relay, the grpc-go path or
// a TCP proxy; exactly one of relay, grpc and tcp is set.
type listener struct {
	cfg   config.Listener
	lis   net.Listener
	relay *h2relay.Server
	grpc  *proxy.Server
	tcp   *tcpListener
}

func (l *listener) shutdown(ctx context.Context) {
	switch {
	case l.tcp != nil:
		_ = l.tcp.proxy.Shutdown(ctx)
	case l.relay != nil:
		l.relay.Shutdown(ctx)
	default:
		l.grpc.Shutdown(ctx)
	}
}

func (l *listener) stop() {
	switch {
	case l.tcp != nil:
		l.tcp.proxy.Close()
		l.tcp.stopFollowing()
	case l.relay != nil:
		l.relay.Stop()
	default:
		l.grpc.Stop()
	}
}

// follow points the listener at the gateway's current clusters.
func (l *listener) follow(g *Gateway) {
	switch {
	case l.tcp != nil:
		l.tcp.follow(g.clusters[l.cfg.Cluster])
	case l.relay != nil:
		l.relay.SetRoutes(g.router(l.cfg), g.relayBalancers())
	default:
		l.grpc.SetRoutes(g.routes(l.cfg))
	}
}

// route names the cluster the listener sends method to (gRPC listeners).
func (l *listener) route(method string) (string, bool) {
	switch {
	case l.relay != nil:
		return l.relay.Route(method)
	case l.grpc != nil:
		return l.grpc.Route(method)
	}
	return "", false
}

// New builds the clusters of cfg without starting them.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, clusters: map[string]*cluster{}}
	for name, cc := range cfg.Clusters {
		c, err := g.newCluster(cfg, name, cc)
		if err != nil {
			g.closeClusters()
			return nil, err
		}
		g.clusters[name] = c
	}
	return g, nil
}

// Start runs discovery and binds every listener. It returns once all
// listeners are bound, or the first error.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ctx, g.cancel = context.WithCancel(ctx)
	for _, c := range g.clusters {
		g.runCluster(c)
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

func (g *Gateway) startListener(lc config.Listener) (*listener, error) {
	var tlsConf *tls.Config
	if t := lc.TLS; t != nil {
		var err error
		tlsConf, err = tlsfiles.ServerConfig(tlsfiles.ServerFiles{Cert: t.Cert, Key: t.Key, ClientCA: t.ClientCA, RequireClientCert: t.RequireClientCert})
		if err != nil {
			return nil, err
		}
	}
	lis, err := net.Listen("tcp", lc.Address)
	if err != nil {
		return nil, err
	}
	l := &listener{cfg: lc, lis: lis}
	switch {
	case lc.Protocol == config.ProtocolTCP:
		if tlsConf != nil {
			lis = tls.NewListener(lis, tlsConf)
		}
		l.tcp = g.startTCP(lc, lis)
	case lc.Dataplane == config.DataplaneGRPC:
		l.grpc = g.startGRPC(lc, lis, tlsConf)
	default:
		if tlsConf != nil {
			lis = tls.NewListener(lis, tlsConf)
		}
		l.relay = g.startRelay(lc, lis)
	}
	g.log.Info("listening", "listener", lc.Name, "address", lis.Addr().String(), "protocol", lc.Protocol, "dataplane", lc.Dataplane, "tls", lc.TLS != nil)
	return l, nil
}

func (g *Gateway) startGRPC(lc config.Listener, lis net.Listener, tlsConf *tls.Config) *proxy.Server {
	opts := proxy.ServerOptions{
		MaxMessageSize:       int(g.cfg.Limits.MaxMessageSize),
		MaxConcurrentStreams: g.cfg.Limits.MaxConcurrentStreams,
		TLS:                  tlsConf,
	}
	if g.metrics != nil {
		opts.StatsHandler = g.metrics.StatsHandler()
		opts.Picked = metrics.PickedEndpoint
	}
	srv := proxy.NewServer(g.routes(lc), opts)
	g.wg.Go(func() { _ = srv.Serve(lis) })
	return srv
}

func (g *Gateway) startRelay(lc config.Listener, lis net.Listener) *h2relay.Server {
	opts := h2relay.Options{
		MaxMessageSize:       int(g.cfg.Limits.MaxMessageSize),
		MaxConcurrentStreams: g.cfg.Limits.MaxConcurrentStreams,
		ConnectTimeout:       g.cfg.Timeouts.Connect,
		Logger:               g.log.With("listener", lc.Name),
	}
	if m := g.metrics; m != nil {
		opts.Observe = func(o h2relay.Observation) { m.ObserveCall(o.Method, o.Endpoint, o.Code, o.Duration) }
	}
	srv := h2relay.NewServer(g.router(lc), g.relayBalancers(), opts)
	g.wg.Go(func() { _ = srv.Serve(lis) })
	return srv
}

// relayBalancers maps every current cluster to its relay balancer.
func (g *Gateway) relayBalancers() map[string]h2relay.Balancer {
	out := make(map[string]h2relay.Balancer, len(g.clusters))
	for name, c := range g.clusters {
		out[name] = c.relay
	}
	return out
}

// router builds a listener's method router.
func (g *Gateway) router(lc config.Listener) *proxy.Router {
	r := proxy.NewRouter(lc.DefaultCluster)
	for _, rt := range lc.Routes {
		if rt.Service != "" {
			r.AddService(rt.Service, rt.Cluster)
		} else {
			r.AddPrefix(rt.Prefix, rt.Cluster)
		}
	}
	return r
}

// routes builds a grpc-go listener's routing table over the current
// clusters.
func (g *Gateway) routes(lc config.Listener) *proxy.Routes {
	r := g.router(lc)
	clusters := make(map[string]*proxy.Cluster, len(g.clusters))
	for name, c := range g.clusters {
		clusters[name] = c.proxy
	}
	return &proxy.Routes{Router: r, Clusters: clusters}
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
}

func (g *Gateway) closeClusters() {
	for _, c := range g.clusters {
		c.close()
	}
}
