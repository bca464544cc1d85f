package h2relay_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/grpctimeout"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// fakeUpstream is an HTTP/2 server driven by a test: it advertises the
// settings given, hands each request to reply (nil: never answer) and
// counts the requests and the resets it receives. It fakes what no
// real gRPC server does on demand: silence, odd settings, malformed
// responses.
type fakeUpstream struct {
	lis      net.Listener
	settings []http2.Setting
	reply    func(w *fakeReply)

	requests atomic.Int64
	cancels  atomic.Int64 // RST_STREAM(CANCEL) received
	mu       sync.Mutex
	timeouts []string // grpc-timeout of each request
}

// fakeReply writes one response on a fake upstream's connection.
type fakeReply struct {
	fr  *http2.Framer
	enc *hpack.Encoder
	buf *bytes.Buffer
	id  uint32
}

func (w *fakeReply) headers(end bool, kv ...string) {
	w.buf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: w.id, BlockFragment: w.buf.Bytes(), EndStream: end, EndHeaders: true})
}

// ok answers with an empty gRPC message and status OK.
func (w *fakeReply) ok() {
	w.headers(false, ":status", "200", "content-type", "application/grpc")
	w.fr.WriteData(w.id, false, make([]byte, 5))
	w.headers(true, "grpc-status", "0")
}

func startFakeUpstream(t *testing.T, reply func(*fakeReply), settings ...http2.Setting) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{settings: settings, reply: reply}
	u.lis = serveFakeH2(t, 30*time.Second, u.serve)
	return u
}

func (u *fakeUpstream) addr() string { return u.lis.Addr().String() }

func (u *fakeUpstream) serve(nc net.Conn) {
	fr := http2.NewFramer(nc, nc)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings(u.settings...)
	var buf bytes.Buffer
	w := &fakeReply{fr: fr, enc: hpack.NewEncoder(&buf), buf: &buf}
	readFakeFrames(fr, func(f http2.Frame) {
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.ErrCode == http2.ErrCodeCancel {
				u.cancels.Add(1)
			}
		case *http2.MetaHeadersFrame:
			if f.PseudoValue("path") == "" {
				return // trailers
			}
			u.mu.Lock()
			u.timeouts = append(u.timeouts, headerValue(f, "grpc-timeout"))
			u.mu.Unlock()
			u.requests.Add(1)
			if u.reply != nil {
				w.id = f.StreamID
				u.reply(w)
			}
		}
	})
}

func headerValue(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// endHeaders reads frames until the HEADERS that end stream id, and
// returns its fields.
func (r *rawConn) endHeaders(id uint32) map[string]string {
	r.t.Helper()
	if r.dec == nil {
		r.dec = hpack.NewDecoder(4096, nil)
	}
	for {
		f := r.until("HEADERS", func(f http2.Frame) bool { _, ok := f.(*http2.HeadersFrame); return ok }).(*http2.HeadersFrame)
		fields, err := r.dec.DecodeFull(f.HeaderBlockFragment())
		if err != nil {
			r.t.Fatal(err)
		}
		if f.StreamID != id || !f.StreamEnded() {
			continue
		}
		m := map[string]string{}
		for _, hf := range fields {
			m[hf.Name] = hf.Value
		}
		return m
	}
}

// The relay ends a call at its grpc-timeout even when neither the
// client nor the endpoint does: the client gets DEADLINE_EXCEEDED, the
// endpoint a CANCEL, and the endpoint was told the deadline.
func TestGRPCTimeoutEnforcedAtTheRelay(t *testing.T) {
	up := startFakeUpstream(t, nil)
	r := dialRaw(t, startRelay(t, h2relay.Options{}, up.addr()))
	if err := r.headers(1, false, "grpc-timeout", "300m"); err != nil {
		t.Fatal(err)
	}
	got := r.endHeaders(1)
	if got["grpc-status"] != "4" || !strings.Contains(got["grpc-message"], "deadline") {
		t.Fatalf("status %q %q, want 4 (DEADLINE_EXCEEDED) from the relay", got["grpc-status"], got["grpc-message"])
	}
	testutil.WaitFor(t, 10*time.Second, "the endpoint's stream cancelled", func() bool { return up.cancels.Load() == 1 })
	up.mu.Lock()
	defer up.mu.Unlock()
	if d, ok := grpctimeout.Parse(up.timeouts[0]); !ok || d > 300*time.Millisecond {
		t.Fatalf("endpoint got grpc-timeout %q, want at most 300ms", up.timeouts[0])
	}
}

// With enforcement off the relay leaves the deadline to the two ends.
func TestGRPCTimeoutIgnoredWhenOff(t *testing.T) {
	up := startFakeUpstream(t, nil)
	addr := startRelay(t, h2relay.Options{IgnoreGRPCTimeout: true, StreamIdleTimeout: 500 * time.Millisecond}, up.addr())
	r := dialRaw(t, addr)
	if err := r.headers(1, false, "grpc-timeout", "1m"); err != nil {
		t.Fatal(err)
	}
	// Only the stream idle timeout, after 500ms, ends it.
	if got := r.endHeaders(1); !strings.Contains(got["grpc-message"], "stream_idle") {
		t.Fatalf("ended by %q, want the stream idle timeout", got["grpc-message"])
	}
}

// max_stream_duration ends a call without a deadline; the endpoint's
// stream is cancelled by the relay (it was told no deadline).
func TestMaxStreamDuration(t *testing.T) {
	up := startFakeUpstream(t, nil)
	client := dialClient(t, startRelay(t, h2relay.Options{MaxStreamDuration: 300 * time.Millisecond}, up.addr()))
	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "max_stream_duration") {
		t.Fatalf("got %v, want DEADLINE_EXCEEDED for max_stream_duration", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the endpoint's stream cancelled", func() bool { return up.cancels.Load() == 1 })
}

// A call on which nothing moves for stream_idle ends; one that keeps
// moving does not.
func TestStreamIdleTimeout(t *testing.T) {
	up := startFakeUpstream(t, nil)
	client := dialClient(t, startRelay(t, h2relay.Options{StreamIdleTimeout: 300 * time.Millisecond}, up.addr()))
	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "stream_idle") {
		t.Fatalf("got %v, want DEADLINE_EXCEEDED for stream_idle", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the endpoint's stream cancelled", func() bool { return up.cancels.Load() == 1 })
}

// A call waiting for a stream slot fails UNAVAILABLE after the queue
// timeout, without reaching the endpoint.
func TestQueueTimeout(t *testing.T) {
	up := startFakeUpstream(t, nil, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
	srv, addr := startRelayServer(t, h2relay.Options{QueueTimeout: 300 * time.Millisecond, MaxConnsPerEndpoint: 1}, up.addr())
	client := dialClient(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() { _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); first <- err }()
	testutil.WaitFor(t, 10*time.Second, "the first call at the endpoint", func() bool { return up.requests.Load() == 1 })
	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "queue timeout") {
		t.Fatalf("got %v, want UNAVAILABLE for the queue timeout", err)
	}
	if n := up.requests.Load(); n != 1 || h2relay.Waiting(srv) != 0 {
		t.Fatalf("%d requests at the endpoint, %d waiting; want 1, 0", n, h2relay.Waiting(srv))
	}
	cancel()
	<-first
}

// An endpoint may advertise MAX_CONCURRENT_STREAMS up to 2^32-1; the
// relay must not read that as a negative limit and stall its calls.
func TestHugeMaxConcurrentStreams(t *testing.T) {
	up := startFakeUpstream(t, (*fakeReply).ok, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1<<32 - 1})
	client := dialClient(t, startRelay(t, h2relay.Options{}, up.addr()))
	for range 3 {
		if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
	}
}

// Malformed response headers fail the call INTERNAL and reset the
// endpoint's stream; the connection carries the next call.
func TestMalformedResponseHeaders(t *testing.T) {
	var n atomic.Int64
	up := startFakeUpstream(t, func(w *fakeReply) {
		switch n.Add(1) {
		case 1:
			w.headers(false, ":status", "200", "Content-Type", "application/grpc") // upper case
		case 2:
			w.headers(false, "content-type", "application/grpc") // no :status
		case 3:
			w.headers(false, ":status", "200", "connection", "close")
		default:
			w.ok()
		}
	})
	client := dialClient(t, startRelay(t, h2relay.Options{}, up.addr()))
	for i := range 3 {
		_, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{})
		if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "malformed response") {
			t.Fatalf("response %d: got %v, want INTERNAL for a malformed response", i+1, err)
		}
	}
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("a good response after malformed ones: %v", err)
	}
}

// Response headers larger than the client's SETTINGS_MAX_HEADER_LIST_SIZE
// are not sent to it: it gets INTERNAL, the endpoint a CANCEL.
func TestClientMaxHeaderListSizeHonoured(t *testing.T) {
	up := startFakeUpstream(t, func(w *fakeReply) {
		w.headers(false, ":status", "200", "content-type", "application/grpc", "x-big", strings.Repeat("b", 2000))
	})
	addr := startRelay(t, h2relay.Options{}, up.addr())
	r := dialRaw(t, addr)
	if err := r.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := r.headers(1, false); err != nil {
		t.Fatal(err)
	}
	got := r.endHeaders(1)
	if got["grpc-status"] != "13" || got["x-big"] != "" {
		t.Fatalf("got %v, want a trailers-only INTERNAL without the big header", got)
	}
	testutil.WaitFor(t, 10*time.Second, "the endpoint's stream cancelled", func() bool { return up.cancels.Load() == 1 })
}

// A stream the client opens after the idle GOAWAY (before reading it)
// is refused and never reaches an endpoint: the GOAWAY told the client
// it was not processed, and a retry must not run the call twice.
func TestStreamAfterIdleGoAwayIsRefused(t *testing.T) {
	up := startFakeUpstream(t, (*fakeReply).ok)
	var begun atomic.Int64
	addr := startRelay(t, h2relay.Options{IdleTimeout: 200 * time.Millisecond,
		Begin: func(string, string) any { begun.Add(1); return nil }}, up.addr())
	r := dialRaw(t, addr)
	ga := r.until("GOAWAY", func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if ga.LastStreamID != 0 {
		t.Fatalf("idle GOAWAY names stream %d as processed", ga.LastStreamID)
	}
	if err := r.headers(1, true); err != nil {
		t.Fatal(err)
	}
	if code := r.reset(1); code != http2.ErrCodeRefusedStream {
		t.Fatalf("stream after GOAWAY reset with %v, want REFUSED_STREAM", code)
	}
	if n := begun.Load(); n != 0 || up.requests.Load() != 0 {
		t.Fatalf("%d calls begun, %d at the endpoint; want none", n, up.requests.Load())
	}
}

// A gRPC route takes POST with an application/grpc content-type only;
// anything else is answered by the relay and never reaches an endpoint.
func TestNonGRPCRequestsAnsweredByTheRelay(t *testing.T) {
	up := startFakeUpstream(t, (*fakeReply).ok)
	r := dialRaw(t, startRelay(t, h2relay.Options{}, up.addr()))
	for i, c := range []struct {
		kv                 []string
		status, grpcStatus string
	}{
		{[]string{":method", "GET"}, "405", "13"},
		{[]string{"content-type", "text/plain"}, "415", "3"},
		{[]string{"content-type", "application/grpcx"}, "415", "3"},
		{[]string{"content-type", "application/grpc+proto"}, "", "0"}, // relayed: its trailers end it
	} {
		id := uint32(2*i + 1)
		if err := r.rawHeaders(id, c.kv...); err != nil {
			t.Fatal(err)
		}
		if got := r.endHeaders(id); got[":status"] != c.status || got["grpc-status"] != c.grpcStatus {
			t.Fatalf("request %v answered %v, want :status %q", c.kv, got, c.status)
		}
	}
	if n := up.requests.Load(); n != 1 {
		t.Fatalf("%d requests reached the endpoint, want only the gRPC one", n)
	}
}

// rawHeaders opens stream id with a unary request whose fields are the
// usual ones, each of kv's names replacing its default.
func (r *rawConn) rawHeaders(id uint32, kv ...string) error {
	fields := []string{":method", "POST", ":scheme", "http", ":path", "/grpc.testing.TestService/UnaryCall",
		":authority", "relay", "content-type", "application/grpc", "te", "trailers"}
	for i := 0; i+1 < len(kv); i += 2 {
		for j := 0; j+1 < len(fields); j += 2 {
			if fields[j] == kv[i] {
				fields[j+1] = kv[i+1]
			}
		}
	}
	r.hbuf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.hbuf.Bytes(), EndStream: true, EndHeaders: true})
}
