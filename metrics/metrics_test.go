package metrics

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

func newMetrics(t *testing.T, route Router) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, route)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestNewRefusesSecondRegistration(t *testing.T) {
	_, reg := newMetrics(t, testRoute)
	if _, err := New(reg, testRoute); err == nil {
		t.Fatal("registering the same metrics twice succeeded")
	}
}

// call runs one server-side call through the handler, as grpc does.
func call(h stats.Handler, method, endpoint string, err error) {
	ctx := h.TagRPC(context.Background(), &stats.RPCTagInfo{FullMethodName: method})
	h.HandleRPC(ctx, &stats.Begin{})
	if endpoint != "" {
		PickedEndpoint(ctx, endpoint)
	}
	h.HandleRPC(ctx, &stats.End{Error: err})
}

func TestMethodLabelsAreBounded(t *testing.T) {
	m, _ := newMetrics(t, func(string) (string, bool) { return "c", true })
	h := m.StatsHandler()
	for i := range MaxMethods + 50 {
		call(h, "/svc/M"+strconv.Itoa(i), "e", nil)
	}
	if n := promtest.CollectAndCount(m.duration); n != MaxMethods+2 {
		t.Fatalf("%d method series, want %d (the cap, %q and %q)", n, MaxMethods+2, OtherMethod, Unrouted)
	}
	if got := promtest.ToFloat64(m.requests.WithLabelValues("c", "e", OtherMethod, "OK")); got != 50 {
		t.Fatalf("other = %v, want 50", got)
	}
}

func TestUnroutedMethodsShareOneLabel(t *testing.T) {
	m, _ := newMetrics(t, testRoute)
	h := m.StatsHandler()
	for i := range 20 {
		call(h, "/random.Name"+strconv.Itoa(i)+"/X", "", status.Error(codes.Unimplemented, "no route"))
	}
	if n := promtest.CollectAndCount(m.requests); n != 1 {
		t.Fatalf("%d request series for unrouted calls, want 1", n)
	}
}

func TestUnroutedNamesDoNotUseUpTheCap(t *testing.T) {
	m, _ := newMetrics(t, func(method string) (string, bool) { return "c", strings.HasPrefix(method, "/svc/") })
	h := m.StatsHandler()
	for i := range 2 * MaxMethods {
		call(h, "/junk/M"+strconv.Itoa(i), "", nil)
	}
	for i := range MaxMethods {
		call(h, "/svc/M"+strconv.Itoa(i), "e", nil)
	}
	if n := promtest.CollectAndCount(m.duration); n != MaxMethods+1 {
		t.Fatalf("%d method series, want every routed method plus %q", n, Unrouted)
	}
	if got := promtest.ToFloat64(m.requests.WithLabelValues(NoCluster, NoEndpoint, Unrouted, "OK")); got != 2*MaxMethods {
		t.Fatalf("unrouted = %v, want %d", got, 2*MaxMethods)
	}
}

func TestRoutesChangedRelabels(t *testing.T) {
	var cluster atomic.Value
	cluster.Store("old")
	m, _ := newMetrics(t, func(string) (string, bool) { return cluster.Load().(string), true })
	h := m.StatsHandler()
	call(h, sayHello, "e", nil)
	cluster.Store("new")
	call(h, sayHello, "e", nil)
	if got := promtest.ToFloat64(m.requests.WithLabelValues("old", "e", sayHello, "OK")); got != 2 {
		t.Fatalf("before RoutesChanged the cached cluster must hold: old = %v, want 2", got)
	}
	m.RoutesChanged()
	call(h, sayHello, "e", nil)
	if got := promtest.ToFloat64(m.requests.WithLabelValues("new", "e", sayHello, "OK")); got != 1 {
		t.Fatalf("after RoutesChanged: new = %v, want 1", got)
	}
}

// TestHotPathAllocations: once a method and endpoint have been seen, a
// call costs one allocation (its context), whatever its outcome.
func TestHotPathAllocations(t *testing.T) {
	m, _ := newMetrics(t, testRoute)
	h := m.StatsHandler()
	fail := status.Error(codes.Unavailable, "down")
	call(h, sayHello, "10.0.0.1:80", nil)
	call(h, sayHello, "10.0.0.1:80", fail)
	tag := &stats.RPCTagInfo{FullMethodName: sayHello}
	begin, end, endFail := &stats.Begin{}, &stats.End{}, &stats.End{Error: fail}
	allocs := testing.AllocsPerRun(1000, func() {
		ctx := h.TagRPC(context.Background(), tag)
		h.HandleRPC(ctx, begin)
		PickedEndpoint(ctx, "10.0.0.1:80")
		h.HandleRPC(ctx, end)
		ctx = h.TagRPC(context.Background(), tag)
		h.HandleRPC(ctx, begin)
		PickedEndpoint(ctx, "10.0.0.1:80")
		h.HandleRPC(ctx, endFail)
	})
	if allocs > 2 {
		t.Fatalf("%v allocations for two calls, want at most 2", allocs)
	}
}

// TestRelayCallsCountInFlight: StartCall and End keep the gauge, and a
// call costs no allocation once its method and endpoint have been seen.
func TestRelayCallsCountInFlight(t *testing.T) {
	m, _ := newMetrics(t, testRoute)
	a, b := m.StartCall(sayHello), m.StartCall(sayHello)
	gauge := m.inFlight.WithLabelValues("greeter", sayHello)
	if got := promtest.ToFloat64(gauge); got != 2 {
		t.Fatalf("in flight = %v, want 2", got)
	}
	a.End("10.0.0.1:80", codes.OK, time.Millisecond)
	b.End("", codes.Unavailable, time.Millisecond)
	if got := promtest.ToFloat64(gauge); got != 0 {
		t.Fatalf("in flight after End = %v, want 0", got)
	}
	if got := promtest.ToFloat64(m.requests.WithLabelValues("greeter", NoEndpoint, sayHello, "Unavailable")); got != 1 {
		t.Fatalf("unpicked call counted %v times, want 1", got)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		m.StartCall(sayHello).End("10.0.0.1:80", codes.OK, time.Millisecond)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call, want 0", allocs)
	}
}

func TestPickedEndpointWithoutHandlerIsHarmless(t *testing.T) {
	PickedEndpoint(context.Background(), "10.0.0.1:80")
}

func TestTCPConnections(t *testing.T) {
	m, reg := newMetrics(t, testRoute)
	if c := m.TCPDialed("db", "10.0.0.9:5432", time.Second, errors.New("refused")); c != nil {
		t.Fatal("a failed dial returned a connection")
	}
	c := m.TCPDialed("db", "10.0.0.9:5432", 3*time.Millisecond, nil)
	c.Sent(100)
	c.Received(4000)
	c.Sent(20)
	ep := map[string]string{"cluster": "db", "endpoint": "10.0.0.9:5432"}
	checks := []struct {
		name string
		want float64
	}{
		{"strait_tcp_connection_failures_total", 1},
		{"strait_tcp_connections_opened_total", 1},
		{"strait_tcp_connections_active", 1},
		{"strait_tcp_upstream_sent_bytes_total", 120},
		{"strait_tcp_upstream_received_bytes_total", 4000},
	}
	for _, ch := range checks {
		if got := value(t, reg, ch.name, ep); got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, got, ch.want)
		}
	}
	if got := value(t, reg, "strait_tcp_dial_duration_seconds", map[string]string{"cluster": "db"}); got != 1 {
		t.Errorf("dial histogram count = %v, want 1 (successes only)", got)
	}
	c.Close()
	c.Close()
	if got := value(t, reg, "strait_tcp_connections_active", ep); got != 0 {
		t.Errorf("active after Close twice = %v, want 0", got)
	}
	var none *TCPConn
	none.Sent(1)
	none.Received(1)
	none.Close()
}

// BenchmarkCall is the handler's cost per call once labels are cached.
func BenchmarkCall(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, testRoute)
	if err != nil {
		b.Fatal(err)
	}
	h := m.StatsHandler()
	tag := &stats.RPCTagInfo{FullMethodName: sayHello}
	begin, end := &stats.Begin{}, &stats.End{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx := h.TagRPC(context.Background(), tag)
			h.HandleRPC(ctx, begin)
			PickedEndpoint(ctx, "10.0.0.1:80")
			h.HandleRPC(ctx, end)
		}
	})
}
