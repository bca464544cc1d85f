package metrics

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/promtest"
	"google.golang.org/grpc/codes"
)

func TestRetainEndpointsDeletesDepartedSeries(t *testing.T) {
	m, reg := newMetrics(t, testRoute)
	const a, b = "10.0.0.1:80", "10.0.0.2:80"
	for _, ep := range []string{a, b} {
		m.StartCall(sayHello).End(ep, codes.OK, time.Millisecond)
		m.TCPDialed("greeter", ep, time.Millisecond, nil).Close()
		m.TCPDialed("greeter", ep, time.Millisecond, errRefused{})
		m.TCPDialed("db", ep, time.Millisecond, nil).Close()
		m.TCPDialed("db", ep, time.Millisecond, errRefused{})
	}
	m.StartCall("/nope.S/M").End("", codes.Unimplemented, time.Millisecond)

	m.RetainEndpoints("greeter", []string{a})

	for _, name := range []string{"strait_grpc_requests_total", "strait_tcp_connections_opened_total",
		"strait_tcp_connections_active", "strait_tcp_connection_failures_total",
		"strait_tcp_upstream_sent_bytes_total", "strait_tcp_upstream_received_bytes_total"} {
		if n := promtest.CountSeries(t, reg, map[string]string{"cluster": "greeter", "endpoint": b}, name); n != 0 {
			t.Errorf("%s: %d series of the departed endpoint remain", name, n)
		}
		if n := promtest.CountSeries(t, reg, map[string]string{"cluster": "greeter", "endpoint": a}, name); n == 0 {
			t.Errorf("%s: the remaining endpoint lost its series", name)
		}
		if n := promtest.CountSeries(t, reg, map[string]string{"cluster": "db", "endpoint": b}, name); n == 0 && name != "strait_grpc_requests_total" {
			t.Errorf("%s: another cluster's series of the same address were deleted", name)
		}
	}
	unrouted := map[string]string{"cluster": NoCluster, "endpoint": NoEndpoint, "method": Unrouted, "code": "Unimplemented"}
	if got := value(t, reg, "strait_grpc_requests_total", unrouted); got != 1 {
		t.Errorf("unrouted calls = %v, want 1 (never deleted)", got)
	}

	// Back in the set: fresh series, even though the call path had the
	// old child cached.
	m.StartCall(sayHello).End(b, codes.OK, time.Millisecond)
	ok := map[string]string{"cluster": "greeter", "endpoint": b, "method": sayHello, "code": "OK"}
	if got := value(t, reg, "strait_grpc_requests_total", ok); got != 1 {
		t.Fatalf("returning endpoint's requests = %v, want a fresh series at 1", got)
	}
}

type errRefused struct{}

func (errRefused) Error() string { return "refused" }
