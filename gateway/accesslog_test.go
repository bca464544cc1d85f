package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// A relay listener with an access log writes one line per call, and each
// field reads back as what happened: who called, what, where it went,
// how it ended, how long and how many bytes.
func TestAccessLogRelay(t *testing.T) {
	b := backend.StartTest(t, "b1")
	path := filepath.Join(t.TempDir(), "access.log")
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, default_cluster: g, access_log: {path: %q, format: json}}]
clusters: {g: {endpoints: [%s]}}
`, path, b.Addr()))
	_, addr, reg := startMetered(t, cfg)

	var mu sync.Mutex
	var clientAddr string
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
			if err == nil {
				mu.Lock()
				clientAddr = c.LocalAddr().String()
				mu.Unlock()
			}
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	greeter := pb.NewGreeterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	before := time.Now()
	req := &pb.HelloRequest{Name: "t"}
	okCtx := metadata.AppendToOutgoingContext(ctx, "traceparent", traceparent)
	reply, err := greeter.SayHello(okCtx, req)
	if err != nil {
		t.Fatal(err)
	}
	failCtx := metadata.AppendToOutgoingContext(ctx, "x-demo-fail", "not_found")
	if _, err := greeter.SayHello(failCtx, req); status.Code(err) != codes.NotFound {
		t.Fatalf("failing call: %v", err)
	}
	after := time.Now()

	var lines []map[string]any
	testutil.WaitFor(t, 10*time.Second, "two access log lines", func() bool {
		lines = readJSONLines(t, path)
		return len(lines) >= 2
	})
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %v", len(lines), lines)
	}
	edge := map[string]string{"listener": "edge"}
	if n, d := sum(t, reg, "strait_access_log_lines_total", edge), sum(t, reg, "strait_access_log_dropped_total", edge); n != 2 || d != 0 {
		t.Errorf("strait_access_log_lines_total %v, dropped %v; want 2, 0", n, d)
	}
	mu.Lock()
	client := clientAddr
	mu.Unlock()
	reqBytes := float64(5 + proto.Size(req))
	common := map[string]any{
		"listener": "edge", "client": client, "authority": addr,
		"method": "/helloworld.Greeter/SayHello", "cluster": "g", "endpoint": b.Addr(), "attempts": 1.0,
		"request_bytes": reqBytes,
	}
	checks := []map[string]any{
		{"grpc_status": "OK", "grpc_message": "", "response_bytes": float64(5 + proto.Size(reply)),
			"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"grpc_status": "NotFound", "grpc_message": "b1: failing on request", "response_bytes": 0.0, "trace_id": ""},
	}
	for i, line := range lines {
		want := map[string]any{}
		for k, v := range common {
			want[k] = v
		}
		for k, v := range checks[i] {
			want[k] = v
		}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("line %d: %s = %#v, want %#v", i, k, line[k], v)
			}
		}
		ts, err := time.Parse(time.RFC3339Nano, line["time"].(string))
		if err != nil || ts.Before(before.Add(-time.Millisecond)) || ts.After(after) {
			t.Errorf("line %d: time %v (%v) outside the calls' %v .. %v", i, line["time"], err, before, after)
		}
		d, ttfb := line["duration_ms"].(float64), line["ttfb_ms"].(float64)
		if !(d > 0 && ttfb > 0 && ttfb <= d && d <= float64(after.Sub(before).Milliseconds()+1)) {
			t.Errorf("line %d: duration_ms %v, ttfb_ms %v; the calls took %v", i, d, ttfb, after.Sub(before))
		}
		if len(line) != 15 {
			t.Errorf("line %d has %d fields, want 15: %v", i, len(line), line)
		}
	}
}

// errors_always logs every failed call while sampling all but none of
// the successful ones.
func TestAccessLogErrorsAlways(t *testing.T) {
	b := backend.StartTest(t, "b1")
	path := filepath.Join(t.TempDir(), "access.log")
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, default_cluster: g, access_log: {path: %q, format: json, sample: 0.000001, errors_always: true}}]
clusters: {g: {endpoints: [%s]}}
`, path, b.Addr()))
	_, addr := startGateway(t, cfg)
	conn := dial(t, addr, nil)
	greeter := pb.NewGreeterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failCtx := metadata.AppendToOutgoingContext(ctx, "x-demo-fail", "not_found")
	for range 20 {
		if _, err := greeter.SayHello(ctx, &pb.HelloRequest{Name: "t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := greeter.SayHello(failCtx, &pb.HelloRequest{Name: "t"}); status.Code(err) != codes.NotFound {
			t.Fatal(err)
		}
	}
	var lines []map[string]any
	testutil.WaitFor(t, 10*time.Second, "20 access log lines", func() bool {
		lines = readJSONLines(t, path)
		return len(lines) >= 20
	})
	for _, l := range lines {
		if l["grpc_status"] != "NotFound" {
			t.Fatalf("a line for a call that was not failed: %v", l)
		}
	}
	if len(lines) != 20 {
		t.Fatalf("%d lines, want the 20 failed calls", len(lines))
	}
}

func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for line := range strings.Lines(string(data)) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// An L4 listener logs each connection: client, endpoint, bytes each
// way, duration and how it ended.
func TestAccessLogTCP(t *testing.T) {
	echo := startEcho(t, "a")
	path := filepath.Join(t.TempDir(), "access.log")
	_, addr := startGateway(t, parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, protocol: tcp, cluster: db, idle_timeout: 1s, access_log: {path: %q, format: json}}]
clusters: {db: {endpoints: [%s]}}
`, path, echo)))

	// One connection the client closes after an exchange…
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "ping")
	if _, err := io.ReadFull(c, buf[:4]); err != nil {
		t.Fatal(err)
	}
	closedBy := c.LocalAddr().String()
	c.Close()
	// …and one left idle until the proxy closes it.
	idle, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	var lines []map[string]any
	testutil.WaitFor(t, 20*time.Second, "two access log lines", func() bool {
		lines = readJSONLines(t, path)
		return len(lines) >= 2
	})
	byEnd := map[string]map[string]any{}
	for _, l := range lines {
		byEnd[l["end"].(string)] = l
	}
	want := map[string]map[string]any{
		"closed": {"listener": "edge", "client": closedBy, "endpoint": echo, "client_bytes": 4.0, "endpoint_bytes": 6.0},
		"idle":   {"listener": "edge", "client": idle.LocalAddr().String(), "endpoint": echo, "client_bytes": 0.0, "endpoint_bytes": 2.0},
	}
	for end, fields := range want {
		l := byEnd[end]
		if l == nil {
			t.Fatalf("no line with end=%s in %v", end, lines)
		}
		for k, v := range fields {
			if l[k] != v {
				t.Errorf("end=%s: %s = %#v, want %#v", end, k, l[k], v)
			}
		}
		if d := l["duration_ms"].(float64); d <= 0 || end == "idle" && d < 1000 {
			t.Errorf("end=%s: duration_ms %v", end, d)
		}
		if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
			t.Errorf("end=%s: time %v", end, err)
		}
	}
}
