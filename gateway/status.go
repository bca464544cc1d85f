package gateway

import (
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/upstream"
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
		cs := admin.FromSnapshot(c.source, c.guard.Snapshot())
		if sc, ok := c.src.(upstream.SkipCounter); ok {
			cs.SkippedValues = sc.SkippedValues()
		}
		st.Clusters = append(st.Clusters, cs)
	}
	return st
}
