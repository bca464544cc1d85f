package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
)

// sidecar runs `strait register args...` until stop, which cancels it as
// SIGTERM would and returns its exit code.
func sidecar(t *testing.T, args ...string) (stop func() int, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	code := make(chan int, 1)
	go func() { code <- registerMain(ctx, args, &syncBuffer{}, stderr) }()
	var once sync.Once
	exit := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(10 * time.Second):
				t.Error("strait register did not exit 10s after SIGTERM")
			}
		})
		return exit
	}
	t.Cleanup(func() { stop() })
	return stop, stderr
}

// values returns the values registered under prefix/.
func values(t *testing.T, cli *clientv3.Client, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Value))
	}
	slices.Sort(out)
	return out
}

func waitValues(t *testing.T, cli *clientv3.Client, want ...string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "registered values "+strings.Join(want, ","), func() bool {
		return slices.Equal(values(t, cli, "user.rpc"), want)
	})
}

func TestRegisterRevokesOnSignal(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	stop, stderr := sidecar(t, "--etcd", srv.Endpoints()[0], "--key", "user.rpc", "--addr", "10.0.0.1:8080", "--ttl", "30s")
	waitValues(t, cli, "10.0.0.1:8080")
	if code := stop(); code != 0 {
		t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, stderr)
	}
	if v := values(t, cli, "user.rpc"); len(v) != 0 {
		t.Errorf("still registered after exit: %v", v)
	}
}

func TestRegisterRefusesUnreachableAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080"} {
		var stderr syncBuffer
		code := registerMain(context.Background(), []string{"--etcd", "127.0.0.1:1", "--key", "user.rpc", "--addr", addr}, &syncBuffer{}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "--advertise") {
			t.Errorf("--addr %s: exit %d, stderr %q; want 2 and a hint about --advertise", addr, code, stderr.String())
		}
	}
}

// TestRegisterFollowsHealth: registered only while the backend is SERVING,
// out after the failed checks, back on recovery; --advertise is what is
// registered while checks go to --addr.
func TestRegisterFollowsHealth(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	b := backend.StartTest(t, "b")
	b.SetServing(false)
	_, port, _ := strings.Cut(b.Addr(), ":")
	adv := "127.0.0.2:" + port
	stop, stderr := sidecar(t, "--etcd", srv.Endpoints()[0], "--key", "user.rpc", "--addr", "0.0.0.0:"+port,
		"--advertise", adv, "--health", "grpc", "--health-interval", "20ms", "--health-failures", "3")

	testutil.Never(t, 200*time.Millisecond, "registered while NOT_SERVING", func() bool {
		return len(values(t, cli, "user.rpc")) > 0
	})
	b.SetServing(true)
	waitValues(t, cli, adv)
	b.SetServing(false)
	waitValues(t, cli)
	b.SetServing(true)
	waitValues(t, cli, adv)
	b.Stop()
	waitValues(t, cli)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "deregistering") {
		t.Errorf("no deregistration logged:\n%s", stderr)
	}
}
