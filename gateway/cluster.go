package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/health"
	"github.com/straitproxy/strait/internal/tlsfiles"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/etcd"
	"github.com/straitproxy/strait/upstream/k8s"
	"github.com/straitproxy/strait/upstream/static"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// cluster is a running cluster and the configuration it was built from,
// so a reload can tell whether it changed. It builds a balancer only for
// the data paths its listeners use (paths): the others stay nil.
type cluster struct {
	// relay balances the HTTP/2 relay's calls (the zero LBPool when no
	// relay listener reaches the cluster); relayDone lets it go.
	relay     h2relay.LBPool
	relayDone func()
	// paths are the data paths that reach the cluster; L4 listeners
	// build their own pools (tcp.go).
	paths config.Paths

	name string
	cfg  config.Cluster
	// source names the discovery backend: static, etcd or k8s.
	source string
	src    upstream.Source
	guard  *upstream.Guard
	// proxy is the grpc-go path's cluster (nil without a grpc-go
	// listener).
	proxy  *proxy.Cluster
	cancel context.CancelFunc
	// unsweep stops the metrics following discovery (nil if they do not).
	unsweep func()
}

func (g *Gateway) newCluster(cfg *config.Config, name string, cc config.Cluster) (*cluster, error) {
	src, kind, err := g.newSource(name, cc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	guard := upstream.NewGuard(name, src, g.log)
	if cfg.StateDir != "" {
		saved, err := upstream.NewSavedSets(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		guard.WithSavedSets(saved)
	}
	c := &cluster{name: name, cfg: cc, paths: cfg.PathsTo(name), source: kind, src: src, guard: guard}
	var tlsConf *tls.Config
	if t := cc.TLS; t != nil {
		tlsConf, err = tlsfiles.ClientConfig(tlsfiles.ClientFiles{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName})
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", name, err)
		}
	}
	if c.paths.GRPC {
		if c.proxy, err = newGRPCCluster(cfg, name, cc, guard, tlsConf); err != nil {
			return nil, err
		}
	}
	if c.paths.Relay {
		c.relay, c.relayDone = newRelayBalancer(name, cc, guard, tlsConf)
	}
	return c, nil
}

// newGRPCCluster is the grpc-go path's cluster: a grpc.ClientConn
// balancing over the pool named grpcPoolName(name).
func newGRPCCluster(cfg *config.Config, name string, cc config.Cluster, guard *upstream.Guard, tlsConf *tls.Config) (*proxy.Cluster, error) {
	sc, err := lb.ServiceConfig(grpcPoolName(name), cc.Balancer)
	if err != nil {
		return nil, err
	}
	return proxy.NewCluster(name, guard, proxy.ClusterOptions{
		MaxMessageSize: int(cfg.Limits.MaxMessageSize),
		ConnectTimeout: cfg.Timeouts.Connect,
		ServiceConfig:  sc,
		TLS:            tlsConf,
	})
}

// newRelayBalancer is the relay's balancer for a cluster: the lb pool
// named after the cluster (the one the status page shows), following the
// cluster's discovery.
func newRelayBalancer(name string, cc config.Cluster, guard *upstream.Guard, tlsConf *tls.Config) (h2relay.LBPool, func()) {
	pool, release := lb.DefaultRegistry.Acquire(name, cc.Balancer)
	var prober *health.Prober
	if hc := cc.Balancer.WithDefaults().HealthCheck; hc.Enabled {
		creds := insecure.NewCredentials()
		if tlsConf != nil {
			creds = credentials.NewTLS(tlsConf)
		}
		prober = health.NewProber(health.GRPC(hc.Service, grpc.WithTransportCredentials(creds)), hc.Interval, hc.Timeout, pool.SetServing)
	}
	b, unfollow := h2relay.NewCheckedLBPool(pool, guard, prober)
	b = b.WithRetryBudget(h2relay.NewRetryBudget(cc.RetryBudget.Values()))
	if tlsConf != nil {
		conf := tlsConf.Clone()
		conf.NextProtos = []string{"h2"}
		b = b.WithTLS(conf)
	}
	return b, func() {
		unfollow()
		if prober != nil {
			prober.Close()
		}
		release()
	}
}

// Pool names in the lb registry: the relay's is the cluster's own name;
// the grpc-go path and L4 keep pools of their own, so each path's
// membership and estimates stay its own.
func grpcPoolName(cluster string) string { return cluster + "/grpc" }

func tcpPoolName(cluster string) string { return cluster + "/tcp" }

// close releases everything the cluster holds, ending calls in flight on
// the grpc-go path.
func (c *cluster) close() {
	if c.unsweep != nil {
		c.unsweep()
	}
	if c.paths.Relay {
		c.relayDone()
	}
	if c.proxy != nil {
		_ = c.proxy.Close()
	}
}

// newSource returns the cluster's discovery source and its kind.
func (g *Gateway) newSource(name string, cc config.Cluster) (upstream.Source, string, error) {
	log := g.log.With("cluster", name)
	switch {
	case cc.Etcd != nil:
		src, err := etcd.New(*cc.Etcd, log)
		return src, admin.SourceEtcd, err
	case cc.K8s.Target != "":
		src, err := k8s.New(cc.K8s, log)
		return src, admin.SourceK8s, err
	}
	return static.New(cc.Endpoints), admin.SourceStatic, nil
}

// runCluster starts the cluster's discovery under the gateway's context.
func (g *Gateway) runCluster(c *cluster) {
	ctx, cancel := context.WithCancel(g.ctx)
	c.cancel = cancel
	g.sweepSeries(c)
	g.wg.Go(func() { c.guard.Run(ctx) })
}

// retire closes a cluster that routes no longer name, once the calls it
// is relaying have ended or the drain timeout has passed; when the
// configuration dropped it (rather than changed it), its endpoint
// series go too.
func (g *Gateway) retire(c *cluster, dropped bool) {
	drain := g.cfg.Timeouts.Drain
	g.wg.Go(func() {
		deadline := time.Now().Add(drain)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		// The relay's calls hold the cluster's lb pool; when a
		// successor shares that pool (a reload that kept the balancer
		// options) its calls count there too, and closing this cluster
		// cuts none of the relay's: then only the grpc-go path waits.
		relayOwn := dropped || !c.sharesRelayPool()
		for c.inFlight(relayOwn) > 0 && time.Now().Before(deadline) {
			select {
			case <-tick.C:
			case <-g.ctx.Done():
				deadline = time.Now()
			}
		}
		c.cancel()
		c.close()
		if dropped {
			g.forgetSeries(c)
		}
	})
}

// inFlight counts the calls c is carrying: the grpc-go path's, and the
// relay's when they are c's own to wait for.
func (c *cluster) inFlight(relayOwn bool) int64 {
	var n int64
	if c.proxy != nil {
		n += c.proxy.InFlight()
	}
	if c.paths.Relay && relayOwn {
		n += c.relay.InFlight()
	}
	return n
}

// sharesRelayPool says whether the registry's pool for c's name, which
// a successor cluster would acquire, is c's own.
func (c *cluster) sharesRelayPool() bool {
	if !c.paths.Relay {
		return false
	}
	p, ok := lb.DefaultRegistry.Pool(c.name)
	return ok && p == c.relay.Pool()
}

// sameCluster says whether a running cluster can serve a reloaded
// config's cluster as it is: the same options, reached by the same data
// paths.
func sameCluster(c *cluster, cfg *config.Config, cc config.Cluster) bool {
	return reflect.DeepEqual(c.cfg, cc) && c.paths == cfg.PathsTo(c.name)
}

func sortedNames(m map[string]*cluster) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
