// Package gateway wires a configuration into running parts: a discovery
// source and last-good guard per cluster, a grpc.ClientConn per cluster,
// and a proxy server per listener.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
)

// Gateway is strait running one configuration.
type Gateway struct {
	cfg      *config.Config
	log      *slog.Logger
	clusters map[string]*proxy.Cluster
	servers  []*listener

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type listener struct {
	name   string
	lis    net.Listener
	server *proxy.Server
}

// New builds the parts for cfg without starting them.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, clusters: map[string]*proxy.Cluster{}}
	for name, cc := range cfg.Clusters {
		c, err := g.newCluster(name, cc)
		if err != nil {
			g.closeClusters()
			return nil, err
		}
		g.clusters[name] = c
	}
	return g, nil
}

func (g *Gateway) newCluster(name string, cc config.Cluster) (*proxy.Cluster, error) {
	src, err := newSource(cc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	guard := upstream.NewGuard(name, src, g.log)
	if g.cfg.StateDir != "" {
		saved, err := upstream.NewSavedSets(g.cfg.StateDir)
		if err != nil {
			return nil, err
		}
		guard.WithSavedSets(saved)
	}
	return proxy.NewCluster(name, guard, proxy.ClusterOptions{
		MaxMessageSize: int(g.cfg.Limits.MaxMessageSize),
		ConnectTimeout: g.cfg.Timeouts.Connect,
	})
}

func newSource(cc config.Cluster) (upstream.Source, error) {
	return static.New(cc.Endpoints), nil
}

// Start runs discovery and binds every listener. It returns once all
// listeners are bound, or the first bind error.
func (g *Gateway) Start(ctx context.Context) error {
	ctx, g.cancel = context.WithCancel(ctx)
	for _, c := range g.clusters {
		g.wg.Go(func() { c.Guard.Run(ctx) })
	}
	for _, lc := range g.cfg.Listeners {
		lis, err := net.Listen("tcp", lc.Address)
		if err != nil {
			g.Stop()
			return fmt.Errorf("listener %s: %w", lc.Name, err)
		}
		l := &listener{name: lc.Name, lis: lis, server: proxy.NewServer(g.router(lc), g.clusters, proxy.ServerOptions{
			MaxMessageSize:       int(g.cfg.Limits.MaxMessageSize),
			MaxConcurrentStreams: g.cfg.Limits.MaxConcurrentStreams,
		})}
		g.servers = append(g.servers, l)
		g.wg.Go(func() { _ = l.server.Serve(lis) })
		g.log.Info("listening", "listener", lc.Name, "address", lis.Addr().String(), "protocol", lc.Protocol)
	}
	return nil
}

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

// Addr returns the bound address of the named listener.
func (g *Gateway) Addr(name string) (string, error) {
	for _, l := range g.servers {
		if l.name == name {
			return l.lis.Addr().String(), nil
		}
	}
	return "", errors.New("gateway: no listener " + name)
}

// Clusters returns the running clusters by name.
func (g *Gateway) Clusters() map[string]*proxy.Cluster { return g.clusters }

// Shutdown drains: listeners stop accepting and send GOAWAY, in-flight
// calls run until they end or ctx does; then everything stops.
func (g *Gateway) Shutdown(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range g.servers {
		wg.Go(func() { l.server.Shutdown(ctx) })
	}
	wg.Wait()
	g.Stop()
}

// Stop closes everything at once.
func (g *Gateway) Stop() {
	for _, l := range g.servers {
		l.server.Stop()
	}
	if g.cancel != nil {
		g.cancel()
	}
	g.wg.Wait()
	g.closeClusters()
}

func (g *Gateway) closeClusters() {
	for _, c := range g.clusters {
		_ = c.Close()
	}
}
