package h2relay_test

import (
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// resetter is an HTTP/2 endpoint that reads each request to its end,
// giving the windows back, and then resets the stream: REFUSED_STREAM
// (the endpoint did not process it), after response headers when
// headersFirst (the call committed). A fake because no real server
// refuses streams on demand; what matters is the relay's reaction.
type resetter struct {
	lis          net.Listener
	headersFirst bool
	streams      atomic.Int64 // requests read to their end and reset
}

func startResetter(t *testing.T, headersFirst bool) *resetter {
	r := &resetter{headersFirst: headersFirst}
	r.lis = serveFakeH2(t, 20*time.Second, r.serve)
	return r
}

func (r *resetter) addr() string { return r.lis.Addr().String() }

func (r *resetter) serve(nc net.Conn) {
	fr := http2.NewFramer(nc, nc)
	fr.WriteSettings()
	refuse := func(id uint32) {
		r.streams.Add(1)
		if r.headersFirst {
			var buf []byte
			enc := hpack.NewEncoder(&byteSink{&buf})
			enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf, EndHeaders: true})
		}
		fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
	}
	readFakeFrames(fr, func(f http2.Frame) {
		switch f := f.(type) {
		case *http2.HeadersFrame:
			if f.StreamEnded() {
				refuse(f.StreamID)
			}
		case *http2.DataFrame:
			if n := f.Length; n > 0 {
				fr.WriteWindowUpdate(0, n)
				if !f.StreamEnded() {
					fr.WriteWindowUpdate(f.StreamID, n)
				}
			}
			if f.StreamEnded() {
				refuse(f.StreamID)
			}
		}
	})
}

type byteSink struct{ b *[]byte }

func (s *byteSink) Write(p []byte) (int, error) { *s.b = append(*s.b, p...); return len(p), nil }

// retryLog records what the relay reports of its calls and retries.
type retryLog struct {
	mu     sync.Mutex
	events map[h2relay.RetryEvent]int
	obs    []h2relay.Observation
}

func (l *retryLog) options(o h2relay.Options) h2relay.Options {
	l.events = map[h2relay.RetryEvent]int{}
	o.OnRetry = func(_ string, e h2relay.RetryEvent) {
		l.mu.Lock()
		l.events[e]++
		l.mu.Unlock()
	}
	o.Observe = func(ob h2relay.Observation) {
		l.mu.Lock()
		l.obs = append(l.obs, ob)
		l.mu.Unlock()
	}
	return o
}

func (l *retryLog) count(e h2relay.RetryEvent) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[e]
}

// all returns a copy of every event's count.
func (l *retryLog) all() map[h2relay.RetryEvent]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.events)
}

func (l *retryLog) observations() []h2relay.Observation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]h2relay.Observation(nil), l.obs...)
}

// A stream its endpoint refused goes to the other endpoint inside the
// relay: the client sees one call, answered OK, and never the refusal.
// (gRPC clients would retry a refusal themselves; here each call is
// observed once, by the endpoint that answered.)
func TestRefusedStreamIsRetriedElsewhere(t *testing.T) {
	ref := startResetter(t, false)
	b := startBackend(t, "b0")
	var log retryLog
	_, addr := startRelayServer(t, log.options(h2relay.Options{}), ref.addr(), b.addr)
	client := dialClient(t, addr)
	const calls = 20
	for i := range calls {
		if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 100)}}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	refused := ref.streams.Load()
	if refused == 0 {
		t.Fatal("no call reached the refusing endpoint")
	}
	if got := log.count(h2relay.RetryRefused); int64(got) != refused {
		t.Fatalf("relay retried %d calls as refused, the endpoint refused %d (all retry events: %v)", got, refused, log.all())
	}
	obs := log.observations()
	if len(obs) != calls {
		t.Fatalf("%d calls observed, want %d (a refusal reached the client)", len(obs), calls)
	}
	for _, o := range obs {
		if o.Code != 0 || o.Endpoint != b.addr {
			t.Fatalf("observed %+v, want OK from %s", o, b.addr)
		}
	}
	if b.Calls() != calls {
		t.Fatalf("backend served %d calls, want %d", b.Calls(), calls)
	}
}

// A stream above the last stream id of the endpoint's GOAWAY is retried
// on the other endpoint the same way.
func TestGoAwayRefusedStreamIsRetriedElsewhere(t *testing.T) {
	ref := startRefuser(t)
	b := startBackend(t, "b0")
	var log retryLog
	_, addr := startRelayServer(t, log.options(h2relay.Options{}), ref.lis.Addr().String(), b.addr)
	client := dialClient(t, addr)
	const calls = 8
	for i := range calls {
		if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if ref.streams.Load() == 0 {
		t.Fatal("no call reached the refusing endpoint")
	}
	if got := log.count(h2relay.RetryGoAway); int64(got) != ref.streams.Load() {
		t.Fatalf("relay retried %d calls, the endpoint refused %d", got, ref.streams.Load())
	}
	if obs := log.observations(); len(obs) != calls {
		t.Fatalf("%d calls observed, want %d", len(obs), calls)
	}
}

// A client stream that outgrew its replay buffer is not retried: it
// fails as it did without retries, and is counted. One within the
// buffer, on the same endpoints, is retried and succeeds.
func TestStreamOverReplayBufferIsNotRetried(t *testing.T) {
	ref := startResetter(t, false)
	b := startBackend(t, "b0")
	bal := preferBalancer{ref.addr(), b.addr}
	var log retryLog
	_, addr := startRelayBal(t, log.options(h2relay.Options{ReplayBuffer: 64 << 10}), bal)
	client := dialClient(t, addr)

	send := func(msgs int) error {
		st, err := client.StreamingInputCall(ctxTimeout(t, 10*time.Second))
		if err != nil {
			return err
		}
		for range msgs {
			if err := st.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 16<<10)}}); err != nil {
				break // the error comes with CloseAndRecv
			}
		}
		_, err = st.CloseAndRecv()
		return err
	}
	if err := send(2); err != nil { // 32 KiB: within the buffer
		t.Fatalf("stream within its buffer: %v", err)
	}
	if log.count(h2relay.RetryRefused) != 1 || b.Calls() != 1 {
		t.Fatalf("stream within its buffer: %d retries, backend saw %d calls; want 1 and 1", log.count(h2relay.RetryRefused), b.Calls())
	}
	// 320 KiB: over the relay's buffer, and over the client's own (256
	// KiB), so the client does not retry it either.
	if err := send(20); err == nil {
		t.Fatal("stream over its buffer succeeded; it should fail as the endpoint refused it")
	}
	if log.count(h2relay.NotRetriedBuffer) != 1 || log.count(h2relay.RetryRefused) != 1 {
		t.Fatalf("stream over its buffer: events %v; want one buffer_exceeded and no new retry", log.all())
	}
	if b.Calls() != 1 {
		t.Fatalf("backend saw %d calls; the stream over its buffer reached it", b.Calls())
	}
}

// preferBalancer sends every call to first, and its retries to second.
type preferBalancer struct{ first, second string }

func (b preferBalancer) Pick() (h2relay.Call, bool) { return addrCall(b.first), true }

func (b preferBalancer) PickAvoiding(avoid func(string) bool) (h2relay.Call, bool) {
	for _, a := range []string{b.first, b.second} {
		if !avoid(a) {
			return addrCall(a), true
		}
	}
	return nil, false
}

type addrCall string

func (c addrCall) Addr() string      { return string(c) }
func (addrCall) FirstResponse()      {}
func (addrCall) End(h2relay.Outcome) {}

// A call that received its response headers has committed: reset
// afterwards, even with REFUSED_STREAM, it is not retried.
func TestCommittedCallIsNotRetried(t *testing.T) {
	ref := startResetter(t, true)
	b := startBackend(t, "b0")
	bal := preferBalancer{ref.addr(), b.addr}
	var log retryLog
	_, addr := startRelayBal(t, log.options(h2relay.Options{}), bal)
	client := dialClient(t, addr)
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err == nil {
		t.Fatal("a call reset after its headers succeeded")
	}
	if ref.streams.Load() == 0 {
		t.Fatal("the call never reached the resetting endpoint")
	}
	if log.count(h2relay.RetryRefused) != 0 || b.Calls() != 0 {
		t.Fatalf("committed call retried: %d retries, backend saw %d calls", log.count(h2relay.RetryRefused), b.Calls())
	}
}
