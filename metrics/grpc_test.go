package metrics

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/status"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
)

const sayHello = "/helloworld.Greeter/SayHello"

// setup starts a backend and a relay instrumented with fresh metrics,
// and returns a Greeter client of the relay.
func setup(t *testing.T) (*prometheus.Registry, *backend.Server, pb.GreeterClient, *grpc.ClientConn) {
	t.Helper()
	b := backend.StartTest(t, "b1")
	reg := prometheus.NewRegistry()
	m, err := New(reg, testRoute)
	if err != nil {
		t.Fatal(err)
	}
	addr := startRelay(t, m, b.Addr())
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return reg, b, pb.NewGreeterClient(cc), cc
}

func TestRequestsByClusterEndpointMethodCode(t *testing.T) {
	reg, b, client, cc := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 5 {
		if _, err := client.SayHello(ctx, &pb.HelloRequest{Name: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	b.SetFailure(1, codes.Unavailable)
	for range 2 {
		if _, err := client.SayHello(ctx, &pb.HelloRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want Unavailable", err)
		}
	}
	err := cc.Invoke(ctx, "/nope.Svc/Anything", &pb.HelloRequest{}, &pb.HelloReply{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unrouted: err = %v, want Unimplemented", err)
	}

	ep := b.Addr()
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"strait_grpc_requests_total", map[string]string{"cluster": "greeter", "endpoint": ep, "method": sayHello, "code": "OK"}, 5},
		{"strait_grpc_requests_total", map[string]string{"cluster": "greeter", "endpoint": ep, "method": sayHello, "code": "Unavailable"}, 2},
		{"strait_grpc_requests_total", map[string]string{"cluster": "none", "endpoint": "none", "method": "unrouted", "code": "Unimplemented"}, 1},
		{"strait_grpc_request_duration_seconds", map[string]string{"cluster": "greeter", "method": sayHello}, 7},
		{"strait_grpc_requests_in_flight", map[string]string{"cluster": "greeter", "method": sayHello}, 0},
	}
	// grpc-go reports a call's end to the stats handler after it wrote
	// the status, so the client may see its reply first: wait for each.
	for _, c := range checks {
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%s%v = %v", c.name, c.labels, c.want), func() bool {
			return value(t, reg, c.name, c.labels) == c.want
		})
	}
}

func TestInFlightFollowsOpenCalls(t *testing.T) {
	reg, b, client, _ := setup(t)
	b.SetLatency(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.SayHello(ctx, &pb.HelloRequest{})
		done <- err
	}()
	labels := map[string]string{"cluster": "greeter", "method": sayHello}
	testutil.WaitFor(t, 10*time.Second, "one call in flight, reached the backend", func() bool {
		return value(t, reg, "strait_grpc_requests_in_flight", labels) == 1 && b.Calls() == 1
	})
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Fatalf("err = %v, want Canceled", err)
	}
	testutil.WaitFor(t, 10*time.Second, "no call in flight", func() bool {
		return value(t, reg, "strait_grpc_requests_in_flight", labels) == 0
	})
	canceled := map[string]string{"cluster": "greeter", "endpoint": b.Addr(), "method": sayHello, "code": "Canceled"}
	testutil.WaitFor(t, 10*time.Second, "the cancelled call counted", func() bool {
		return value(t, reg, "strait_grpc_requests_total", canceled) == 1
	})
}

// value gathers reg and returns the named sample with exactly labels: a
// counter's or gauge's value, a histogram's count; -1 if absent.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if matches(m, labels) {
				return metricValue(m)
			}
		}
	}
	return -1
}

func matches(m *dto.Metric, labels map[string]string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, l := range m.GetLabel() {
		if labels[l.GetName()] != l.GetValue() {
			return false
		}
	}
	return true
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return -1
}
