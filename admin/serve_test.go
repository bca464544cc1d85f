package admin

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/stats"

	"github.com/straitproxy/strait/metrics"
)

func TestListenAndServeStopsOnShutdown(t *testing.T) {
	srv := New(Options{Addr: "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe() }()
	// Shutdown may come before or after the listener opens; either way
	// ListenAndServe must return nil.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ListenAndServe after Shutdown = %v, want nil", err)
	}
}

func TestListenAndServeReportsBusyAddress(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	err = New(Options{Addr: lis.Addr().String()}).ListenAndServe()
	if err == nil || !strings.Contains(err.Error(), "admin listen") {
		t.Fatalf("ListenAndServe on a busy address = %v, want an admin listen error", err)
	}
}

// allMetricNames is every strait_ metric name the admin server exposes
// once the data path has seen traffic.
var allMetricNames = []string{
	"strait_build_info",
	"strait_grpc_requests_total",
	"strait_grpc_request_duration_seconds",
	"strait_grpc_requests_in_flight",
	"strait_tcp_connections_opened_total",
	"strait_tcp_connections_active",
	"strait_tcp_connection_failures_total",
	"strait_tcp_upstream_sent_bytes_total",
	"strait_tcp_upstream_received_bytes_total",
	"strait_tcp_dial_duration_seconds",
	"strait_endpoint_ewma_seconds",
	"strait_endpoint_in_flight_requests",
	"strait_endpoint_breaker_state",
	"strait_endpoint_ejections_total",
	"strait_cluster_endpoints",
	"strait_cluster_panic_mode",
	"strait_cluster_panic_activations_total",
	"strait_discovery_state",
	"strait_discovery_last_sync_age_seconds",
	"strait_discovery_skipped_values_total",
}

// TestMetricNamesAfterTraffic registers the data-path metrics with the
// admin registry, as the gateway will, drives them the way grpc and the
// L4 proxy do, and checks that /metrics lists every name.
func TestMetricNamesAfterTraffic(t *testing.T) {
	src := &fakeSource{st: twoClusters(time.Now())}
	r := start(t, Options{Status: src})
	m, err := metrics.New(r.srv.Registry(), func(string) (string, bool) { return "greeter", true })
	if err != nil {
		t.Fatal(err)
	}
	h := m.StatsHandler()
	ctx := h.TagRPC(context.Background(), &stats.RPCTagInfo{FullMethodName: "/helloworld.Greeter/SayHello"})
	h.HandleRPC(ctx, &stats.Begin{})
	metrics.PickedEndpoint(ctx, "127.0.0.1:7001")
	h.HandleRPC(ctx, &stats.End{})
	m.TCPDialed("db", "127.0.0.1:5432", time.Millisecond, net.ErrClosed)
	m.TCPDialed("db", "127.0.0.1:5432", time.Millisecond, nil).Sent(10)

	_, body := r.get(t, "/metrics")
	for _, name := range allMetricNames {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !strings.Contains(body, `strait_grpc_requests_total{cluster="greeter",code="OK",endpoint="127.0.0.1:7001",method="/helloworld.Greeter/SayHello"} 1`) {
		t.Errorf("request not counted:\n%s", grep(body, "strait_grpc_requests_total"))
	}
}
