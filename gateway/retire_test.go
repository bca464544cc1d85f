package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/lb"
)

// retireConfig routes the Greeter on the relay to cluster to, out of
// the clusters given as name: endpoint pairs.
func retireConfig(to string, clusters map[string]string) string {
	cs := ""
	for name, addr := range clusters {
		cs += fmt.Sprintf("  %s: {endpoints: [%s]}\n", name, addr)
	}
	return fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, routes: [{service: helloworld.Greeter, cluster: %s}]}]
clusters:
%stimeouts: {drain: 30s}
`, to, cs)
}

// A reload that drops a cluster retires it only once the relay's calls
// on it have ended: its balancer (and its series) stay while a call
// runs, the call completes, and then they go.
func TestRetireWaitsForTheRelaysCalls(t *testing.T) {
	slow, next := backend.StartTest(t, "slow"), backend.StartTest(t, "next")
	// Long enough for a retire that did not wait to show.
	slow.SetLatency(2 * time.Second)
	gw, addr := startGateway(t, parse(t, retireConfig("rold", map[string]string{"rold": slow.Addr(), "rnew": next.Addr()})))
	conn := dial(t, addr, nil)
	done := make(chan error, 1)
	go func() {
		from, err := sayHello(conn)
		if err == nil && from != "slow" {
			err = fmt.Errorf("answered by %q", from)
		}
		done <- err
	}()
	pool, ok := lb.DefaultRegistry.Pool("rold")
	if !ok {
		t.Fatal("no relay pool for rold")
	}
	testutil.WaitFor(t, 10*time.Second, "the slow call in flight on rold", func() bool { return pool.Stats().Endpoints[0].InFlight == 1 })
	if err := gw.Reload(parse(t, retireConfig("rnew", map[string]string{"rnew": next.Addr()}))); err != nil {
		t.Fatal(err)
	}
	if from, err := sayHello(conn); err != nil || from != "next" {
		t.Fatalf("a call after the reload: from %q, %v", from, err)
	}
	// Until the slow call ends, the retired cluster's pool must stay.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the call in flight during the reload: %v", err)
			}
			waiting = false
		case <-tick.C:
			// Read in this order: once the pool is gone, a correct
			// retire has seen its last call end.
			if _, ok := lb.DefaultRegistry.Pool("rold"); !ok && pool.Stats().Endpoints[0].InFlight > 0 {
				t.Fatal("the dropped cluster was closed while the relay still had a call on it")
			}
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the dropped cluster's pool released once its call ended", func() bool {
		_, ok := lb.DefaultRegistry.Pool("rold")
		return !ok
	})
}
