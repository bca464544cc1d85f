package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/gateway"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serving is `strait serve` running in-process on a config file.
type serving struct {
	cancel context.CancelFunc
	exit   chan int
	log    *syncBuffer
}

// serve starts `strait serve -config path`; stop it with stop.
func serve(path string) *serving {
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{cancel: cancel, exit: make(chan int, 1), log: &syncBuffer{}}
	go func() { s.exit <- run(ctx, []string{"serve", "-config", path}, &bytes.Buffer{}, s.log) }()
	return s
}

// stop signals strait, as SIGTERM does, and fails the test unless it
// exits 0 within 10 s.
func (s *serving) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.exit:
		if code != 0 {
			t.Errorf("strait exit %d after the signal; log:\n%s", code, s.log)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("strait did not stop after the signal; log:\n%s", s.log)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "strait.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func freeAddr(t *testing.T) string { return testutil.FreeAddr(t) }

func TestBadConfigExitsTwoWithOneLine(t *testing.T) {
	path := writeConfig(t, "listeners: [{address: 127.0.0.1:9000, default_cluster: user}]\nclusters: {user: {endpoints: [127.0.0.1:1, 10.0.0.1]}}\n")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "-config", path}, &stdout, &stderr)
	want := `config: clusters.user.endpoints[1]: "10.0.0.1" has no port` + "\n"
	if code != 2 || stderr.String() != want {
		t.Fatalf("exit %d, stderr %q; want exit 2, %q", code, stderr.String(), want)
	}
}

func TestMissingConfigFileExitsTwo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-config", filepath.Join(t.TempDir(), "none.yaml")}, &stdout, &stderr)
	if code != 2 || !strings.HasPrefix(stderr.String(), "config: open ") || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d", code)
	}
}

func TestServeRelaysAndDrainsOnSignal(t *testing.T) {
	b := backend.StartTest(t, "only")
	addr, adminAddr := freeAddr(t), freeAddr(t)
	path := writeConfig(t, fmt.Sprintf(`
admin: {address: %s}
listeners: [{name: edge, address: %s, routes: [{service: helloworld.Greeter, cluster: g}]}]
clusters: {g: {endpoints: [%s]}}
timeouts: {drain: 5s}
`, adminAddr, addr, b.Addr()))
	strait := serve(path)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	callCtx, callCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer callCancel()
	reply, err := pb.NewGreeterClient(conn).SayHello(callCtx, &pb.HelloRequest{Name: "t"}, grpc.WaitForReady(true))
	if err != nil || reply.GetMessage() != "Hello t from only" {
		t.Fatalf("reply %q, err %v", reply.GetMessage(), err)
	}
	for path, want := range map[string]string{
		"/readyz":      "ready",
		"/metrics":     `strait_grpc_requests_total{cluster="g",code="OK",endpoint="` + b.Addr() + `",method="/helloworld.Greeter/SayHello"} 1`,
		"/status.json": `"name":"g"`,
	} {
		if body := httpGet(t, "http://"+adminAddr+path); !strings.Contains(body, want) {
			t.Errorf("%s lacks %q:\n%s", path, want, body)
		}
	}
	strait.stop(t)
	testutil.WaitFor(t, time.Second, "log says stopped", func() bool { return strings.Contains(strait.log.String(), "msg=stopped") })
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

func TestReloadRefusesBadFileAndKeepsServing(t *testing.T) {
	a := backend.StartTest(t, "a")
	cfg := fmt.Sprintf("listeners: [{name: edge, address: 127.0.0.1:0, default_cluster: g}]\nclusters: {g: {endpoints: [%s]}}\n", a.Addr())
	path := writeConfig(t, cfg)
	c, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer gw.Stop()
	if err := os.WriteFile(path, []byte("clusters: {g: {endpoints: [nope]}}\n"+cfg[:strings.Index(cfg, "\n")]), 0o644); err != nil {
		t.Fatal(err)
	}
	err = reload(gw, path)
	if err == nil || err.Error() != `config: clusters.g.endpoints[0]: "nope" has no port` {
		t.Fatalf("reload of a bad file: %v", err)
	}
	if gw.Config() != c {
		t.Fatal("a refused reload replaced the running configuration")
	}
}

func TestRegisterSubcommandIsDispatched(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"register", "--etcd", "127.0.0.1:1", "--key", "k", "--addr", "0.0.0.0:8080"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--advertise") {
		t.Fatalf("exit %d, stderr %q; want 2 and a hint about --advertise", code, stderr.String())
	}
}
