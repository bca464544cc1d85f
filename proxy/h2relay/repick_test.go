package h2relay_test

import (
	"errors"
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// Calls waiting for a dial that is refused go to the live endpoint, and
// the balancer hears of the refusal.
func TestWaitingCallsLeaveARefusedEndpoint(t *testing.T) {
	live := startBackend(t, "live")
	dead := testutil.DeadAddr(t)
	bal := newScriptBalancer(nil)
	bal.pick = bal.ejecting(dead, live.addr)
	_, addr := startRelayBal(t, h2relay.Options{}, bal)
	client := dialClient(t, addr)
	for i, err := range unaryAll(client, 200, 50) {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	refused := 0
	for _, o := range bal.outcomes(dead) {
		if o.Err == nil {
			t.Fatalf("a call on the dead endpoint ended without an error: %+v", o)
		}
		if errors.Is(o.Err, syscall.ECONNREFUSED) {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no call waited for the refused dial: the balancer never saw it")
	}
}

// When an endpoint's connection is lost, calls still waiting for a
// stream slot on it (nothing sent) go to another endpoint with the
// messages the client sent meanwhile; the call already started there
// fails Unavailable.
func TestQueuedCallsSurviveALostConnection(t *testing.T) {
	const queued, queuedStreams = 8, 2
	a := startCrashable(t, "a", grpc.MaxConcurrentStreams(1))
	b := startBackend(t, "b")
	var toB atomic.Bool
	bal := newScriptBalancer(func(uint64) string {
		if toB.Load() {
			return b.addr
		}
		return a.addr
	})
	srv, addr := startRelayBal(t, h2relay.Options{MaxConnsPerEndpoint: 1}, bal)
	client := dialClient(t, addr)

	started, err := client.FullDuplexCall(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := started.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := started.Recv(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, queued)
	for range queued {
		go func() {
			_, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{})
			errc <- err
		}()
	}
	// Streams whose first message waits with them: what the client sent
	// meanwhile must move along.
	echo := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}
	var waitingStreams []testpb.TestService_FullDuplexCallClient
	for range queuedStreams {
		st, err := client.FullDuplexCall(ctxTimeout(t, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(echo); err != nil {
			t.Fatal(err)
		}
		waitingStreams = append(waitingStreams, st)
	}
	testutil.WaitFor(t, 5*time.Second, "the calls wait for a's only stream slot", func() bool {
		return h2relay.Waiting(srv) == queued+queuedStreams
	})
	toB.Store(true)
	a.crash()

	for i, st := range waitingStreams {
		if err := st.Send(echo); err != nil {
			t.Fatalf("queued stream %d: %v", i, err)
		}
		for range 2 {
			if _, err := st.Recv(); err != nil {
				t.Fatalf("queued stream %d: %v", i, err)
			}
		}
		st.CloseSend()
		if _, err := st.Recv(); err != io.EOF {
			t.Fatalf("queued stream %d ended with %v", i, err)
		}
	}

	for range queued {
		if err := <-errc; err != nil {
			t.Errorf("queued call: %v", err)
		}
	}
	if _, err := started.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("started call: got %v, want Unavailable", err)
	}
	outs := bal.outcomes(a.addr)
	if len(outs) != queued+queuedStreams+1 {
		t.Fatalf("a's calls ended %d times, want %d", len(outs), queued+queuedStreams+1)
	}
	for _, o := range outs {
		if o.Err == nil {
			t.Errorf("a call on the crashed endpoint ended without an error: %+v", o)
		}
	}
}

// With every endpoint down a call fails Unavailable after its bounded
// attempts, at once.
func TestAllEndpointsDownFailsFast(t *testing.T) {
	const calls = 20
	bal := newScriptBalancer(roundRobin(testutil.DeadAddr(t), testutil.DeadAddr(t)))
	_, addr := startRelayBal(t, h2relay.Options{}, bal)
	client := dialClient(t, addr)
	start := time.Now()
	for i, err := range unaryAll(client, calls, calls) {
		if status.Code(err) != codes.Unavailable {
			t.Errorf("call %d: got %v, want Unavailable", i, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("calls took %v to fail", d)
	}
	if n := bal.picks.Load(); n > 3*calls {
		t.Errorf("%d picks for %d calls, want at most 3 each", n, calls)
	}
}
