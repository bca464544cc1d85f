package h2relay_test

import (
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// Observe hears of every call once, with the status the client got and
// what Begin returned for it.
func TestObserveReportsEveryCall(t *testing.T) {
	b := startBackend(t, "b0")
	var mu sync.Mutex
	var seen []h2relay.Observation
	r := route.NewTable("")
	r.AddPrefix("/grpc.testing.", "c")
	srv := h2relay.NewServer(r, map[string]h2relay.Balancer{"c": &recorder{addr: b.addr}}, h2relay.Options{
		Begin: func(method, cluster string) any { return "begun " + method + " " + cluster },
		Observe: func(o h2relay.Observation) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, o)
		},
	})
	addr := testutil.Serve(t, srv)
	client := dialClient(t, addr)
	ctx := ctxTimeout(t, 5*time.Second)
	client.UnaryCall(ctx, &testpb.SimpleRequest{})
	client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound)}})
	dialConn(t, addr).Invoke(ctx, "/unknown.S/M", &testpb.Empty{}, &testpb.Empty{})
	want := []h2relay.Observation{
		{Method: "/grpc.testing.TestService/UnaryCall", Cluster: "c", Endpoint: b.addr, Code: codes.OK, Begun: "begun /grpc.testing.TestService/UnaryCall c"},
		{Method: "/grpc.testing.TestService/UnaryCall", Cluster: "c", Endpoint: b.addr, Code: codes.NotFound, Begun: "begun /grpc.testing.TestService/UnaryCall c"},
		{Method: "/unknown.S/M", Code: codes.Unimplemented, Begun: "begun /unknown.S/M "},
	}
	testutil.WaitFor(t, 5*time.Second, "three observations", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(want) {
		t.Fatalf("%d observations, want %d", len(seen), len(want))
	}
	for i, w := range want {
		got := seen[i]
		if got.Duration <= 0 {
			t.Fatalf("observation %d has no duration", i)
		}
		got.Duration = 0
		if got != w {
			t.Fatalf("observation %d = %+v, want %+v", i, got, w)
		}
	}
}
