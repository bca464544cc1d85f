package tcpproxy

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/straitproxy/strait/internal/testutil"
)

func TestMetricsExportTheCounters(t *testing.T) {
	b := startBackend(t)
	h := startProxy(t, Options{Name: "db", Cluster: "pg"}, b.addr())
	if err := h.pingOnce("12345"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "connection closed", func() bool { return h.proxy.Stats().Active == 0 })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h.proxy)
	// The exposition format sorts labels by name.
	ep := `endpoint="` + b.addr() + `",listener="db"`
	want := `
# HELP strait_tcp_endpoint_bytes_total Bytes relayed, by direction (up: client to endpoint, down: endpoint to client).
# TYPE strait_tcp_endpoint_bytes_total counter
strait_tcp_endpoint_bytes_total{cluster="pg",direction="down",` + ep + `} 5
strait_tcp_endpoint_bytes_total{cluster="pg",direction="up",` + ep + `} 5
# HELP strait_tcp_endpoint_connections_opened_total Connections established to the endpoint.
# TYPE strait_tcp_endpoint_connections_opened_total counter
strait_tcp_endpoint_connections_opened_total{cluster="pg",` + ep + `} 1
# HELP strait_tcp_connections_accepted_total Client connections taken off the listener.
# TYPE strait_tcp_connections_accepted_total counter
strait_tcp_connections_accepted_total{cluster="pg",listener="db"} 1
`
	err := promtest.GatherAndCompare(reg, strings.NewReader(want),
		"strait_tcp_endpoint_bytes_total", "strait_tcp_endpoint_connections_opened_total",
		"strait_tcp_connections_accepted_total")
	if err != nil {
		t.Fatal(err)
	}
	if n := promtest.CollectAndCount(h.proxy, "strait_tcp_endpoint_dial_duration_seconds"); n != 1 {
		t.Fatalf("%d dial histograms, want 1", n)
	}
}
