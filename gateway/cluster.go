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
// so a reload can tell whether it changed.
type cluster struct {
	// relay balances the HTTP/2 relay's calls; relayDone lets it go.
	relay     h2relay.LBPool
	relayDone func()

	name string
	cfg  config.Cluster
	// source names the discovery backend: static, etcd or k8s.
	source string
	src    upstream.Source
	guard  *upstream.Guard
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
	sc, err := lb.ServiceConfig(grpcPoolName(name), cc.Balancer)
	if err != nil {
		return nil, err
	}
	opts := proxy.ClusterOptions{
		MaxMessageSize: int(cfg.Limits.MaxMessageSize),
		ConnectTimeout: cfg.Timeouts.Connect,
		ServiceConfig:  sc,
	}
	if t := cc.TLS; t != nil {
		opts.TLS, err = tlsfiles.ClientConfig(tlsfiles.ClientFiles{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName})
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", name, err)
		}
	}
	pc, err := proxy.NewCluster(name, guard, opts)
	if err != nil {
		return nil, err
	}
	c := &cluster{name: name, cfg: cc, source: kind, src: src, guard: guard, proxy: pc}
	c.relay, c.relayDone = newRelayBalancer(name, cc, guard, opts.TLS)
	return c, nil
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
	c.relayDone()
	_ = c.proxy.Close()
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
		for (c.proxy.InFlight() > 0 || relayOwn && c.relay.InFlight() > 0) && time.Now().Before(deadline) {
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

// sharesRelayPool says whether the registry's pool for c's name, which
// a successor cluster would acquire, is c's own.
func (c *cluster) sharesRelayPool() bool {
	p, ok := lb.DefaultRegistry.Pool(c.name)
	return ok && p == c.relay.Pool()
}

func sameCluster(a, b config.Cluster) bool { return reflect.DeepEqual(a, b) }

func sortedNames(m map[string]*cluster) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
