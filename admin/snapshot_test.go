package admin

import (
	"errors"
	"testing"
	"time"

	"github.com/straitproxy/strait/upstream"
)

func TestFromSnapshot(t *testing.T) {
	synced := time.Unix(1700000000, 0)
	c := FromSnapshot(SourceEtcd, upstream.Snapshot{
		Cluster:   "greeter",
		Endpoints: []upstream.Endpoint{{Addr: "10.0.0.1:80"}, {Addr: "10.0.0.2:80"}},
		State:     upstream.Stale,
		LastSync:  synced,
		LastErr:   errors.New("etcd: connection refused"),
	})
	if c.Name != "greeter" || c.Source != "etcd" || c.State != StateStale || !c.LastSync.Equal(synced) ||
		c.LastError != "etcd: connection refused" || len(c.Endpoints) != 2 ||
		c.Endpoints[1].Addr != "10.0.0.2:80" || c.Endpoints[1].Breaker != BreakerClosed {
		t.Fatalf("FromSnapshot = %+v", c)
	}
	for _, s := range []upstream.State{upstream.NeverSynced, upstream.Synced, upstream.Stale} {
		got := FromSnapshot(SourceStatic, upstream.Snapshot{State: s}).State
		if got != StateNeverSynced && got != StateSynced && got != StateStale {
			t.Fatalf("state %v maps to %q, which the page and metrics do not know", s, got)
		}
	}
}
