package gateway_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/metadata"
)

// collector is an in-process OTLP trace receiver on loopback.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) received() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{}
	s := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(s, c)
	return c, testutil.Serve(t, s)
}

// traceBackend is a greeter that remembers the traceparent of each call.
type traceBackend struct {
	pb.UnimplementedGreeterServer
	mu   sync.Mutex
	seen []string
}

func (b *traceBackend) SayHello(ctx context.Context, in *pb.HelloRequest) (*pb.HelloReply, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	b.mu.Lock()
	b.seen = append(b.seen, strings.Join(md.Get("traceparent"), ","))
	b.mu.Unlock()
	return &pb.HelloReply{Message: "hi"}, nil
}

func startTraceBackend(t *testing.T) (*traceBackend, string) {
	t.Helper()
	b := &traceBackend{}
	s := grpc.NewServer()
	pb.RegisterGreeterServer(s, b)
	return b, testutil.Serve(t, s)
}

func attrs(sp *tracepb.Span) map[string]string {
	out := map[string]string{}
	for _, kv := range sp.GetAttributes() {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			out[kv.GetKey()] = v.GetStringValue()
		default:
			out[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		}
	}
	return out
}

// Each relayed call makes a span, the child of the client's traceparent
// (or the root of a new trace), exported over OTLP; the endpoint gets the
// span's own traceparent.
func TestTracingSpansAndPropagation(t *testing.T) {
	col, colAddr := startCollector(t)
	back, backAddr := startTraceBackend(t)
	_, addr := startGateway(t, parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, default_cluster: g}]
clusters: {g: {endpoints: [%s]}}
tracing: {endpoint: %s}
`, backAddr, colAddr)))
	greeter := pb.NewGreeterClient(dial(t, addr, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	withParent := metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+traceID+"-"+parentID+"-01")
	if _, err := greeter.SayHello(withParent, &pb.HelloRequest{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := greeter.SayHello(ctx, &pb.HelloRequest{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	var spans []*tracepb.Span
	testutil.WaitFor(t, 20*time.Second, "two spans at the collector", func() bool {
		spans = col.received()
		return len(spans) >= 2
	})
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	back.mu.Lock()
	seen := append([]string(nil), back.seen...)
	back.mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("backend saw %d calls", len(seen))
	}
	byTrace := map[string]*tracepb.Span{}
	for _, sp := range spans {
		byTrace[hex.EncodeToString(sp.GetTraceId())] = sp
	}
	child := byTrace[traceID]
	if child == nil {
		t.Fatalf("no span in the client's trace %s: %v", traceID, spans)
	}
	if got := hex.EncodeToString(child.GetParentSpanId()); got != parentID {
		t.Errorf("parent span %s, want the client's %s", got, parentID)
	}
	if want := "00-" + traceID + "-" + hex.EncodeToString(child.GetSpanId()) + "-01"; seen[0] != want {
		t.Errorf("endpoint got traceparent %q, want strait's span %q", seen[0], want)
	}
	for _, sp := range spans {
		if sp.GetName() != "helloworld.Greeter/SayHello" || sp.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("span %q kind %v", sp.GetName(), sp.GetKind())
		}
		host, port, _ := net.SplitHostPort(backAddr)
		want := map[string]string{"rpc.system": "grpc", "rpc.service": "helloworld.Greeter", "rpc.method": "SayHello",
			"rpc.grpc.status_code": "0", "strait.cluster": "g", "strait.endpoint": backAddr,
			"server.address": host, "server.port": port}
		if got := attrs(sp); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("attributes %v\nwant %v", got, want)
		}
	}
	var root *tracepb.Span
	for id, sp := range byTrace {
		if id != traceID {
			root = sp
		}
	}
	if root == nil || len(root.GetParentSpanId()) != 0 {
		t.Fatalf("the call without a traceparent has no root span: %v", root)
	}
	if want := "00-" + hex.EncodeToString(root.GetTraceId()) + "-" + hex.EncodeToString(root.GetSpanId()) + "-01"; seen[1] != want {
		t.Errorf("endpoint got traceparent %q for the new trace, want %q", seen[1], want)
	}
}
