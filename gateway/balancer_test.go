package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
)

// Through strait with its default balancer, a node ten times slower than
// its peers gets little traffic, and the status shows why.
func TestDefaultBalancerAvoidsSlowNode(t *testing.T) {
	fast1, fast2, slow := backend.StartTest(t, "fast1"), backend.StartTest(t, "fast2"), backend.StartTest(t, "slow")
	fast1.SetLatency(2 * time.Millisecond)
	fast2.SetLatency(2 * time.Millisecond)
	slow.SetLatency(20 * time.Millisecond)
	// A short tau lets the estimates forget the scheduling stalls of a
	// shared machine quickly; the 10s default would latch them longer.
	cfg := strings.Replace(greeterConfig(fast1.Addr(), fast2.Addr(), slow.Addr()), "]}}", "], balancer: {tau: 1s}}}", 1)
	gw, addr := startGateway(t, parse(t, cfg))
	conn := dial(t, addr, nil)
	// Round robin would give the slow node a third. A peak-EWMA takes a
	// stall of the machine as the latency of the node it hit and forgets
	// it only over a few tau: one stall of a second can send the slow
	// node a third of a round's calls. On a shared 2-core machine the
	// property must hold in one of three rounds, each on estimates the
	// rounds before have settled.
	const calls, rounds = 300, 3
	var spread []map[string]int
	for range rounds {
		counts := map[string]int{}
		for range calls {
			from, err := sayHello(conn)
			if err != nil {
				t.Fatal(err)
			}
			counts[from]++
		}
		spread = append(spread, counts)
		if counts["slow"] <= calls/10 {
			break
		}
	}
	if last := spread[len(spread)-1]; last["slow"] > calls/10 {
		t.Fatalf("the slow node took over a tenth of %d calls in each of %d rounds: %v", calls, rounds, spread)
	}
	testutil.WaitFor(t, 5*time.Second, "status carries the balancer's estimates", func() bool {
		st := gw.Status()
		if len(st.Clusters) != 1 || len(st.Clusters[0].Endpoints) != 3 {
			return false
		}
		for _, e := range st.Clusters[0].Endpoints {
			if e.EWMA <= 0 || e.Breaker != "closed" {
				return false
			}
		}
		return true
	})
	t.Logf("spread by round: %s", fmt.Sprint(spread))
}
