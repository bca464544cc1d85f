package h2relay_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// hedgeRouter sends every call to cluster "c" and hedges the methods
// in p (the idempotent ones); the others are not hedged.
type hedgeRouter map[string]*h2relay.HedgePolicy

func (hedgeRouter) Route(string) (string, bool)                      { return "c", true }
func (r hedgeRouter) HedgePolicy(method string) *h2relay.HedgePolicy { return r[method] }

const (
	unaryMethod  = "/grpc.testing.TestService/UnaryCall"
	emptyMethod  = "/grpc.testing.TestService/EmptyCall"
	streamMethod = "/grpc.testing.TestService/StreamingInputCall"
)

func startHedgeRelay(t *testing.T, o h2relay.Options, r hedgeRouter, bal h2relay.Balancer) string {
	t.Helper()
	return testutil.Serve(t, h2relay.NewServer(r, map[string]h2relay.Balancer{"c": bal}, o))
}

// timedCalls makes n unary calls, par at a time, and returns their
// latencies, sorted; any failure fails the test.
func timedCalls(t *testing.T, client testpb.TestServiceClient, n, par int) []time.Duration {
	t.Helper()
	errs, lat := unaryTimed(client, n, par, 20*time.Second)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	slices.Sort(lat)
	return lat
}

// A node whose every fifth call takes two seconds: without hedging those
// calls are the p99; with a hedge after 50ms, each goes to another node
// too and the p99 stays below the spike, by far on an idle machine. Both relays run in the same
// test, in front of the same nodes, so the machine's load is shared.
func TestHedgingCutsTheSpikyNodesTail(t *testing.T) {
	const spike = 2 * time.Second
	spiky, b1, b2 := startBackend(t, "spiky"), startBackend(t, "b1"), startBackend(t, "b2")
	for _, b := range []*testBackend{spiky, b1, b2} {
		b.SetLatency(5 * time.Millisecond)
	}
	spiky.SetSpikes(5, spike)
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: 50 * time.Millisecond}
	var log retryLog
	hedged := dialClient(t, startHedgeRelay(t, log.options(h2relay.Options{}), hedgeRouter{unaryMethod: p}, roundRobinOver(spiky.addr, b1.addr, b2.addr)))
	plain := dialClient(t, startHedgeRelay(t, h2relay.Options{}, hedgeRouter{}, roundRobinOver(spiky.addr, b1.addr, b2.addr)))
	const calls, par = 400, 8
	without := timedCalls(t, plain, calls, par)
	before := spiky.Calls()
	with := timedCalls(t, hedged, calls, par)
	// Each spike hit while hedging lost to another attempt and was
	// cancelled at the node: a first attempt taken over by its hedge, or
	// a hedge the first attempt beat. (A fast call that lost a race is
	// cancelled too, on a busy machine.)
	spikes := spiky.Calls()/5 - before/5
	var last string
	defer func() { t.Log(last) }()
	testutil.WaitFor(t, 20*time.Second, "every spike hit while hedging cancelled", func() bool {
		last = fmt.Sprintf("%d spikes, %d cancelled", spikes, spiky.Cancelled())
		return spiky.Cancelled() >= spikes
	})
	t.Logf("%d calls, a third to a node that takes %v on one call in 5 (5ms otherwise): p50/p99/max without hedging %v/%v/%v, with %v/%v/%v; %d hedges",
		calls, spike, testutil.Quantile(without, .5), testutil.Quantile(without, .99), without[calls-1],
		testutil.Quantile(with, .5), testutil.Quantile(with, .99), with[calls-1], log.count(h2relay.RetryHedge))
	if testutil.Quantile(without, .99) < spike {
		t.Fatalf("without hedging the p99 is %v, under the spike (%v): the spikes were not hit", testutil.Quantile(without, .99), spike)
	}
	if testutil.Quantile(with, .99) >= spike {
		t.Fatalf("with hedging the p99 is %v, not under the spike (%v)", testutil.Quantile(with, .99), spike)
	}
	if log.count(h2relay.RetryHedge) == 0 {
		t.Fatal("no hedge was counted")
	}
}

// Only the routes a hedge policy names are hedged: a slow method with no
// policy (not idempotent) is sent once per call, counted at the nodes,
// while a hedged one on the same nodes is sent twice, its hedge saying
// so in grpc-previous-rpc-attempts.
func TestNonIdempotentRouteIsNeverHedged(t *testing.T) {
	var seen attemptsSeen
	opt := seen.interceptor()
	b0, b1 := startBackend(t, "b0", opt), startBackend(t, "b1", opt)
	for _, b := range []*testBackend{b0, b1} {
		b.SetLatency(100 * time.Millisecond)
	}
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond}
	var log retryLog
	client := dialClient(t, startHedgeRelay(t, log.options(h2relay.Options{}), hedgeRouter{emptyMethod: p}, roundRobinOver(b0.addr, b1.addr)))
	const calls = 20
	for i, err := range unaryAll(client, calls, 4) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := b0.Calls() + b1.Calls(); n != calls || log.count(h2relay.RetryHedge) != 0 {
		t.Fatalf("%d calls not hedged reached the nodes %d times, %d hedges counted", calls, n, log.count(h2relay.RetryHedge))
	}
	for i := range calls {
		if _, err := client.EmptyCall(ctxTimeout(t, 10*time.Second), &testpb.Empty{}); err != nil {
			t.Fatalf("hedged call %d: %v", i, err)
		}
	}
	if n := b0.Calls() + b1.Calls() - calls; n != 2*calls {
		t.Fatalf("%d hedged calls reached the nodes %d times, want %d", calls, n, 2*calls)
	}
	if n := seen.count("1"); n != calls {
		t.Fatalf("%d hedges carried grpc-previous-rpc-attempts: 1, want %d", n, calls)
	}
}

// Every call is hedged, and one of the two nodes never answers in
// time: each of its attempts loses and must be cancelled at the node
// (its context ends), or it would run for a minute. Through the lb core,
// nothing is blamed on the nodes: no failure, no ejection, in-flight
// back to 0.
func TestHedgeLosersAreCancelledAndNotBlamed(t *testing.T) {
	fast, stuck := startBackend(t, "fast"), startBackend(t, "stuck")
	fast.SetLatency(200 * time.Millisecond)
	stuck.SetLatency(time.Minute)
	pool, bal, _ := lbCluster(t, "c", fast.addr, stuck.addr)
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: 20 * time.Millisecond}
	client := dialClient(t, startHedgeRelay(t, h2relay.Options{}, hedgeRouter{unaryMethod: p}, bal))
	const calls = 40
	for i, err := range unaryAll(client, calls, 4) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if fast.Calls() != calls || stuck.Calls() == 0 {
		t.Fatalf("the fast node answered %d of %d calls, the stuck one saw %d", fast.Calls(), calls, stuck.Calls())
	}
	var last string
	defer func() { t.Log(last) }()
	testutil.WaitFor(t, 20*time.Second, "every losing attempt cancelled at its node", func() bool {
		last = fmt.Sprintf("%d of the stuck node's %d attempts cancelled", stuck.Cancelled(), stuck.Calls())
		return stuck.Cancelled() == stuck.Calls()
	})
	testutil.WaitFor(t, 20*time.Second, "in-flight back to 0", func() bool {
		var n int64
		for _, e := range pool.Stats().Endpoints {
			n += e.InFlight
		}
		return n == 0
	})
	for _, e := range pool.Stats().Endpoints {
		if e.Failures != 0 || e.Ejections != 0 {
			t.Fatalf("endpoint %s blamed: %+v", e.Addr, e)
		}
	}
}

// Hedging needs the whole request in the replay buffer: a client stream
// that outgrows it is sent once and counted as not hedged for its
// buffer, while a small one on the same method is hedged.
func TestHedgingStopsWhenTheRequestOutgrowsTheBuffer(t *testing.T) {
	b0, b1 := startBackend(t, "b0"), startBackend(t, "b1")
	for _, b := range []*testBackend{b0, b1} {
		b.SetLatency(200 * time.Millisecond)
	}
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond}
	var log retryLog
	o := log.options(h2relay.Options{ReplayBuffer: 4 << 10})
	client := dialClient(t, startHedgeRelay(t, o, hedgeRouter{streamMethod: p}, roundRobinOver(b0.addr, b1.addr)))
	send := func(size int) error {
		s, err := client.StreamingInputCall(ctxTimeout(t, 10*time.Second))
		if err != nil {
			return err
		}
		for range 4 {
			if err := s.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, size)}}); err != nil {
				return err
			}
		}
		_, err = s.CloseAndRecv()
		return err
	}
	if err := send(4 << 10); err != nil {
		t.Fatal(err)
	}
	if n := b0.Calls() + b1.Calls(); n != 1 || log.count(h2relay.RetryHedge) != 0 {
		t.Fatalf("a request over the buffer reached the nodes %d times, %d hedges", n, log.count(h2relay.RetryHedge))
	}
	if log.count(h2relay.NotRetriedBuffer) != 1 {
		t.Fatalf("%d hedges counted as kept back by the buffer, want 1", log.count(h2relay.NotRetriedBuffer))
	}
	if err := send(100); err != nil {
		t.Fatal(err)
	}
	if n := b0.Calls() + b1.Calls(); n != 3 || log.count(h2relay.RetryHedge) != 1 {
		t.Fatalf("a small request reached the nodes %d times (want 2), %d hedges", n-1, log.count(h2relay.RetryHedge))
	}
}

// A non-fatal status from the first attempt sends the next at once
// (the delay here is a minute), to the other node, whose answer the call
// takes; a fatal one is the call's answer, with no further attempt.
func TestHedgeNonFatalStatusSendsTheNextAtOnce(t *testing.T) {
	bad, good := startBackend(t, "bad"), startBackend(t, "good")
	bad.SetFailure(1, codes.Unavailable)
	p := &h2relay.HedgePolicy{MaxAttempts: 2, Delay: time.Minute, NonFatalCodes: []codes.Code{codes.Unavailable}}
	var log retryLog
	client := dialClient(t, startHedgeRelay(t, log.options(h2relay.Options{}), hedgeRouter{unaryMethod: p}, roundRobinOver(bad.addr, good.addr)),
		grpc.WithUnaryInterceptor(noHeadersInterceptor))
	const calls = 20
	for i, err := range unaryAll(client, calls, 2) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if good.Calls() != calls || bad.Calls() == 0 || log.count(h2relay.RetryHedge) != int(bad.Calls()) {
		t.Fatalf("the good node answered %d of %d calls; the bad one failed %d, %d hedges", good.Calls(), calls, bad.Calls(), log.count(h2relay.RetryHedge))
	}
	bad.SetFailure(1, codes.PermissionDenied)
	before, hedges := bad.Calls()+good.Calls(), log.count(h2relay.RetryHedge)
	denied := 0
	for i, err := range unaryAll(client, calls, 2) {
		switch status.Code(err) {
		case codes.PermissionDenied:
			denied++
		case codes.OK:
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if denied == 0 || bad.Calls()+good.Calls()-before != calls || log.count(h2relay.RetryHedge) != hedges {
		t.Fatalf("%d calls denied; the nodes saw %d attempts for %d calls, %d hedges", denied, bad.Calls()+good.Calls()-before, calls, log.count(h2relay.RetryHedge)-hedges)
	}
}
