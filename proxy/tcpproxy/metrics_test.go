package tcpproxy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/metrics"
)

func TestMetricsCountTrafficPerEndpointAndListener(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	live, dead := startBackend(t), startBackend(t)
	dead.stop()
	o := Options{Name: "db", Cluster: "pg", Observer: MetricsObserver(m, "pg")}
	h := startProxy(t, o, dead.addr(), live.addr())
	n := 0
	for ; n < 4 || h.endpoint(dead.addr()).Failed == 0; n++ {
		if n == 50 {
			t.Fatal("no dial reached the dead endpoint; the failure count is untested")
		}
		if err := h.pingOnce("12345"); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, waitLong, "connections closed", func() bool { return h.proxy.Stats().Active == 0 })
	reg.MustRegister(h.proxy)
	fails := h.endpoint(dead.addr()).Failed
	want := `
# HELP strait_tcp_connections_opened_total Upstream TCP connections the L4 proxy opened.
# TYPE strait_tcp_connections_opened_total counter
strait_tcp_connections_opened_total{cluster="pg",endpoint="` + live.addr() + `"} ` + strconv.Itoa(n) + `
# HELP strait_tcp_upstream_sent_bytes_total Bytes the L4 proxy sent to upstream endpoints (client to server).
# TYPE strait_tcp_upstream_sent_bytes_total counter
strait_tcp_upstream_sent_bytes_total{cluster="pg",endpoint="` + live.addr() + `"} ` + strconv.Itoa(5*n) + `
# HELP strait_tcp_upstream_received_bytes_total Bytes the L4 proxy received from upstream endpoints (server to client).
# TYPE strait_tcp_upstream_received_bytes_total counter
strait_tcp_upstream_received_bytes_total{cluster="pg",endpoint="` + live.addr() + `"} ` + strconv.Itoa(5*n) + `
# HELP strait_tcp_connections_active Upstream TCP connections the L4 proxy holds open.
# TYPE strait_tcp_connections_active gauge
strait_tcp_connections_active{cluster="pg",endpoint="` + live.addr() + `"} 0
# HELP strait_tcp_listener_accepted_total Client connections taken off the listener.
# TYPE strait_tcp_listener_accepted_total counter
strait_tcp_listener_accepted_total{cluster="pg",listener="db"} ` + strconv.Itoa(n) + `
`
	err = promtest.GatherAndCompare(reg, strings.NewReader(want),
		"strait_tcp_connections_opened_total", "strait_tcp_upstream_sent_bytes_total",
		"strait_tcp_upstream_received_bytes_total", "strait_tcp_connections_active",
		"strait_tcp_listener_accepted_total")
	if err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, reg, "strait_tcp_connection_failures_total", dead.addr()); got != float64(fails) {
		t.Fatalf("failure metric %v, proxy counted %d", got, fails)
	}
}

// counterValue reads the counter name of endpoint from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, endpoint string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s for %s", name, endpoint)
	return 0
}
