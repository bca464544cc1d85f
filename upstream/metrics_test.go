package upstream

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGuardCollector(t *testing.T) {
	g, src := runGuard(t, nil)
	synced := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return synced }
	c := NewGuardCollector()
	c.now = func() time.Time { return synced.Add(42 * time.Second) }
	c.Add(g)

	want := `
# HELP strait_discovery_endpoints Endpoints in the set a cluster serves.
# TYPE strait_discovery_endpoints gauge
strait_discovery_endpoints{cluster="user"} 0
# HELP strait_discovery_state 1 for the cluster's current source state (synced, stale, never_synced), 0 for the others.
# TYPE strait_discovery_state gauge
strait_discovery_state{cluster="user",state="never_synced"} 1
strait_discovery_state{cluster="user",state="stale"} 0
strait_discovery_state{cluster="user",state="synced"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	src.push(set("a:1", "b:1"))
	src.push(Update{Err: errors.New("etcd down")})
	want = `
# HELP strait_discovery_endpoints Endpoints in the set a cluster serves.
# TYPE strait_discovery_endpoints gauge
strait_discovery_endpoints{cluster="user"} 2
# HELP strait_discovery_last_sync_age_seconds Seconds since the registry last reported the cluster's set; absent if it never did.
# TYPE strait_discovery_last_sync_age_seconds gauge
strait_discovery_last_sync_age_seconds{cluster="user"} 42
# HELP strait_discovery_state 1 for the cluster's current source state (synced, stale, never_synced), 0 for the others.
# TYPE strait_discovery_state gauge
strait_discovery_state{cluster="user",state="never_synced"} 0
strait_discovery_state{cluster="user",state="stale"} 1
strait_discovery_state{cluster="user",state="synced"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
