package gateway_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
)

// startEcho runs a TCP echo server that greets with its name.
func startEcho(t *testing.T, name string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, name+"\n")
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { lis.Close(); <-done })
	return lis.Addr().String()
}

func TestTCPListenerBalancesAndReports(t *testing.T) {
	a, b := startEcho(t, "a"), startEcho(t, "b")
	gw, addr := startGateway(t, parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, protocol: tcp, cluster: db}]
clusters: {db: {endpoints: [%s, %s, %s]}}
`, a, b, testutil.DeadAddr(t))))
	seen := map[string]int{}
	for range 40 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		greeting := make([]byte, 2)
		if _, err := io.ReadFull(c, greeting); err != nil {
			t.Fatalf("a connection through strait failed (a dead endpoint must be skipped): %v", err)
		}
		io.WriteString(c, "ping")
		echo := make([]byte, 4)
		if _, err := io.ReadFull(c, echo); err != nil || string(echo) != "ping" {
			t.Fatalf("echo %q, %v", echo, err)
		}
		seen[string(greeting[:1])]++
		c.Close()
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("connections went to %v; want both live endpoints", seen)
	}
	testutil.WaitFor(t, 5*time.Second, "status shows the balancer's view of the L4 cluster", func() bool {
		st := gw.Status()
		if len(st.Clusters) != 1 {
			return false
		}
		var requests uint64
		for _, e := range st.Clusters[0].Endpoints {
			requests += e.Requests
		}
		return requests >= 40
	})
}

// Each L4 listener exports its strait_tcp_listener_* series, the second
// as well as the first.
func TestEveryTCPListenerKeepsItsMetrics(t *testing.T) {
	a := startEcho(t, "a")
	_, _, reg := startMetered(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: edge, address: 127.0.0.1:0, protocol: tcp, cluster: db}
  - {name: second, address: 127.0.0.1:0, protocol: tcp, cluster: db}
clusters: {db: {endpoints: [%s]}}
`, a)))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	listeners := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "strait_tcp_listener_accepted_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "listener" {
					listeners[l.GetValue()] = true
				}
			}
		}
	}
	if !listeners["edge"] || !listeners["second"] {
		t.Fatalf("strait_tcp_listener_accepted_total has the listeners %v, want edge and second", listeners)
	}
}
