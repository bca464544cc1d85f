package gateway

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/lb"
)

// TestEjectionsNameTheCluster checks that an ejection in any of a
// cluster's pools reaches the admin history under the cluster's name.
func TestEjectionsNameTheCluster(t *testing.T) {
	r := lb.NewRegistry()
	var got []admin.Ejection
	cancel := subscribeEjections(r, func(e admin.Ejection) { got = append(got, e) })
	defer cancel()
	for _, pool := range []string{"users", grpcPoolName("users"), tcpPoolName("users")} {
		p, release := r.Acquire(pool, lb.Options{})
		p.Update([]string{"10.0.0.1:80"})
		p.SetServing("10.0.0.1:80", false)
		release()
	}
	if len(got) != 3 {
		t.Fatalf("%d ejections, want one per pool: %+v", len(got), got)
	}
	for _, e := range got {
		if e.Cluster != "users" || e.Endpoint != "10.0.0.1:80" || e.Kind != admin.EjectionHealth || time.Since(e.Time) > time.Minute {
			t.Fatalf("ejection %+v, want a health drain of users' 10.0.0.1:80 just now", e)
		}
	}
}
