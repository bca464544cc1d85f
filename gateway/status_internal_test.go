package gateway

import (
	"testing"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/lb"
)

// TestBalancerStateSumsCountersOverPaths checks that an endpoint's
// requests and failures, which the history turns into rates, add up
// over the pools of every data path.
func TestBalancerStateSumsCountersOverPaths(t *testing.T) {
	cs := admin.ClusterStatus{Endpoints: []admin.EndpointStatus{{Addr: "a:1"}}}
	addBalancerState(&cs, []lb.PoolStats{
		{Endpoints: []lb.EndpointStats{{Addr: "a:1", Requests: 100, Failures: 3, Breaker: admin.BreakerClosed, Serving: true}}},
		{Endpoints: []lb.EndpointStats{{Addr: "a:1", Requests: 20, Failures: 2, Breaker: admin.BreakerOpen, Serving: true}}},
	})
	if e := cs.Endpoints[0]; e.Requests != 120 || e.Failures != 5 || e.Breaker != admin.BreakerOpen {
		t.Fatalf("endpoint %+v, want 120 requests, 5 failures, open", e)
	}
}
