package gateway

import (
	"fmt"
	"reflect"
	"time"

	"github.com/straitproxy/strait/config"
)

// Reload switches the running gateway to cfg: clusters are added,
// replaced or retired, and every listener's routes are swapped, without
// dropping connections or calls in flight (a replaced cluster is closed
// once its calls end). New clusters take routes once their discovery
// has answered (up to firstSetWait). Changes that need new sockets
// (listeners) are refused with an error and nothing changes.
func (g *Gateway) Reload(cfg *config.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.reloadable(cfg); err != nil {
		return err
	}
	next := map[string]*cluster{}
	var built []*cluster
	for name, cc := range cfg.Clusters {
		if old, ok := g.clusters[name]; ok && sameCluster(old, cfg, cc) {
			next[name] = old
			continue
		}
		c, err := g.newCluster(cfg, name, cc)
		if err != nil {
			for _, b := range built {
				b.close()
			}
			return err
		}
		next[name] = c
		built = append(built, c)
	}
	for _, c := range built {
		g.runCluster(c)
	}
	g.awaitFirstSets(built)
	old := g.clusters
	g.cfg, g.clusters = cfg, next
	for i, l := range g.listeners {
		l.cfg = cfg.Listeners[i]
		l.follow(g)
	}
	for name, c := range old {
		if next[name] != c {
			g.retire(c, next[name] == nil)
		}
	}
	g.log.Info("configuration reloaded", "clusters", len(next), "new_or_changed", len(built))
	return nil
}

// firstSetWait bounds how long start-up or a reload waits for new
// clusters' discovery to answer before routing to them anyway.
const firstSetWait = 5 * time.Second

// awaitFirstSets waits until every new cluster's discovery has answered
// (a set, or an error with or without a saved set), so that calls routed
// to it right after the reload find endpoints rather than none.
func (g *Gateway) awaitFirstSets(cs []*cluster) {
	timeout := time.NewTimer(firstSetWait)
	defer timeout.Stop()
	for _, c := range cs {
		select {
		case <-c.guard.Ready():
		case <-timeout.C:
			g.log.Warn("discovery has not answered; routing to the cluster anyway", "cluster", c.name, "waited", firstSetWait)
			return
		case <-g.ctx.Done():
			return
		}
	}
}

// reloadable refuses changes that a reload cannot apply in place.
func (g *Gateway) reloadable(cfg *config.Config) error {
	if len(cfg.Listeners) != len(g.cfg.Listeners) {
		return fmt.Errorf("reload: listeners were added or removed; restart to apply")
	}
	for i, l := range cfg.Listeners {
		o := g.cfg.Listeners[i]
		if l.Name != o.Name || l.Address != o.Address || l.Protocol != o.Protocol || !reflect.DeepEqual(l.TLS, o.TLS) {
			return fmt.Errorf("reload: listeners[%d] (%s): address, protocol or tls changed; restart to apply", i, o.Name)
		}
		if !reflect.DeepEqual(l.AccessLog, o.AccessLog) {
			return fmt.Errorf("reload: listeners[%d] (%s): access_log changed; restart to apply", i, o.Name)
		}
		if l.Protocol == config.ProtocolTCP && (l.Cluster != o.Cluster || !reflect.DeepEqual(l.TCP, o.TCP)) {
			return fmt.Errorf("reload: listeners[%d] (%s): a tcp listener's cluster or options changed; restart to apply", i, o.Name)
		}
	}
	for i, l := range cfg.Listeners {
		if l.TCP.MaxConnections != g.cfg.Listeners[i].TCP.MaxConnections {
			return fmt.Errorf("reload: listeners[%d] (%s): max_connections changed; restart to apply", i, l.Name)
		}
	}
	if cfg.Timeouts.WriteStall != g.cfg.Timeouts.WriteStall {
		return fmt.Errorf("reload: timeouts.write_stall changed; restart to apply")
	}
	if !reflect.DeepEqual(cfg.Tracing, g.cfg.Tracing) {
		return fmt.Errorf("reload: tracing changed; restart to apply")
	}
	if cfg.Limits != g.cfg.Limits {
		return fmt.Errorf("reload: limits changed; restart to apply")
	}
	if cfg.Timeouts.Keepalive != g.cfg.Timeouts.Keepalive {
		return fmt.Errorf("reload: timeouts.keepalive changed; restart to apply")
	}
	return nil
}
