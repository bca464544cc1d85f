package gateway

import (
	"time"

	"github.com/straitproxy/strait/admin"
)

// Status reports every cluster's discovery state and endpoints for the
// admin page and the scrape-time metrics. Safe for concurrent use.
func (g *Gateway) Status() admin.Status {
	g.mu.Lock()
	clusters := make(map[string]*cluster, len(g.clusters))
	for name, c := range g.clusters {
		clusters[name] = c
	}
	g.mu.Unlock()
	st := admin.Status{Time: time.Now()}
	for _, name := range sortedNames(clusters) {
		c := clusters[name]
		st.Clusters = append(st.Clusters, admin.FromSnapshot(c.source, c.guard.Snapshot()))
	}
	return st
}
