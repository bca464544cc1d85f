package h2relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

// A DeadlineExceeded when the client's own grpc-timeout runs out says
// nothing about the endpoint; one long before it does.
func TestExpiredDeadlinesAreNotTheEndpoints(t *testing.T) {
	b := startBackend(t, "b0")
	rec := &recorder{addr: b.addr}
	_, addr := startRelayBal(t, h2relay.Options{}, rec)
	client := dialClient(t, addr)
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err) // connected: the short calls below reach the relay
	}
	rec.last(t, 1)

	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		client.UnaryCall(metadata.AppendToOutgoingContext(ctx, "x-demo-latency", "10s"), &testpb.SimpleRequest{})
		cancel()
	}
	// The client's reset of each call goes out before the next call on
	// its connection: once this one is reported, so are they.
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the calls' outcomes", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.ends) >= 2 && rec.ends[len(rec.ends)-1].Code == codes.OK && !rec.ends[len(rec.ends)-1].Local
	})
	rec.mu.Lock()
	expired := rec.ends[1 : len(rec.ends)-1]
	rec.mu.Unlock()
	if len(expired) < 10 {
		t.Fatalf("only %d of 20 short calls reached the relay", len(expired))
	}
	for i, o := range expired {
		if !o.Local {
			t.Fatalf("call %d, which ran out of its deadline, reported as %+v", i, o)
		}
	}
	n := len(expired) + 2
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client.UnaryCall(metadata.AppendToOutgoingContext(ctx, "x-demo-fail", "deadline_exceeded"), &testpb.SimpleRequest{})
	if o := rec.last(t, n+1); o.Local || o.Code != codes.DeadlineExceeded {
		t.Fatalf("a DeadlineExceeded 10 s before the deadline reported as %+v", o)
	}
}
