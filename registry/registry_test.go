package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
	"github.com/straitproxy/strait/internal/testutil/relay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var fast = []Option{WithTimeout(time.Second), WithBackoff(50*time.Millisecond, 300*time.Millisecond)}

func register(t *testing.T, cli *clientv3.Client, addr string, opts ...Option) *Registrar {
	t.Helper()
	r, err := Register(context.Background(), cli, "user.rpc", addr, append(fast, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	select {
	case <-r.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not registered after 5s")
	}
	return r
}

// registered returns the key → value pairs under user.rpc/.
func registered(t *testing.T, cli *clientv3.Client) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "user.rpc/", clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

// onlyKey waits until exactly one key is registered, holding addr, and
// known to r as its key; it returns the key.
func onlyKey(t *testing.T, cli *clientv3.Client, r *Registrar, addr string, timeout time.Duration) string {
	t.Helper()
	var key string
	testutil.WaitFor(t, timeout, "one registration of "+addr, func() bool {
		m := registered(t, cli)
		for k, v := range m {
			key = k
			return len(m) == 1 && v == addr && k == r.Key()
		}
		return false
	})
	return key
}

// TestRegisterAndRevoke: the go-zero layout, the TTL, and Close revoking.
func TestRegisterAndRevoke(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	r := register(t, cli, "10.0.0.1:8080")
	key := onlyKey(t, cli, r, "10.0.0.1:8080", time.Second)
	var lease int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(key, "user.rpc/"), "%d", &lease); err != nil {
		t.Fatalf("key %q is not user.rpc/<lease id>", key)
	}
	ttl, err := cli.TimeToLive(context.Background(), clientv3.LeaseID(lease))
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 10 {
		t.Errorf("granted TTL %d, want 10", ttl.GrantedTTL)
	}
	r.Close()
	if m := registered(t, cli); len(m) != 0 {
		t.Errorf("after Close etcd still has %v", m)
	}
}

// TestMetadataValue: WithMetadata writes the JSON value discovery reads.
func TestMetadataValue(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	r := register(t, cli, "10.0.0.1:8080", WithMetadata(map[string]string{"zone": "b"}))
	onlyKey(t, cli, r, `{"addr":"10.0.0.1:8080","zone":"b"}`, time.Second)
}

// TestReRegistersAfterWipe: etcd restarted with its data wiped; the
// instance registers again by itself.
func TestReRegistersAfterWipe(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	r := register(t, cli, "10.0.0.1:8080")
	onlyKey(t, cli, r, "10.0.0.1:8080", time.Second)
	srv.RestartWiped()
	back := time.Now()
	onlyKey(t, cli, r, "10.0.0.1:8080", 15*time.Second)
	t.Logf("registered again %v after etcd came back empty", time.Since(back))
}

// TestReRegistersAfterKeyDeleted: someone deletes the key; the instance
// puts itself back under a new lease and drops the old one.
func TestReRegistersAfterKeyDeleted(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	r := register(t, cli, "10.0.0.1:8080")
	old := onlyKey(t, cli, r, "10.0.0.1:8080", time.Second)
	if _, err := cli.Delete(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	key := onlyKey(t, cli, r, "10.0.0.1:8080", 5*time.Second)
	if key == old {
		t.Errorf("re-registered under the old key %q", key)
	}
	leases, err := cli.Leases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Leases) != 1 {
		t.Errorf("%d leases, want 1 (the old one revoked)", len(leases.Leases))
	}
}

// TestReRegistersAfterPartition: a partition longer than the TTL loses the
// lease; once etcd is reachable the instance registers again, once.
func TestReRegistersAfterPartition(t *testing.T) {
	srv := etcdtest.Start(t)
	admin := srv.Client(t)
	rel := relay.Start(t, srv.Endpoints()[0])
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{rel.Addr()}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() }) // after the registrar's Close: cleanups run last-in first-out
	r := register(t, cli, "10.0.0.1:8080", WithTTL(2*time.Second))
	old := onlyKey(t, admin, r, "10.0.0.1:8080", time.Second)

	rel.Cut()
	testutil.WaitFor(t, 10*time.Second, "lease expires during the partition", func() bool {
		return len(registered(t, admin)) == 0
	})
	rel.Restore()
	key := onlyKey(t, admin, r, "10.0.0.1:8080", 10*time.Second)
	if key == old {
		t.Errorf("after the partition etcd still has the old key %q", key)
	}
}

func TestRegisterRefusesBadInput(t *testing.T) {
	if _, err := Register(context.Background(), nil, "user.rpc", "10.0.0.1:80"); err == nil {
		t.Error("Register accepted a nil client")
	}
	cli := &clientv3.Client{} // never used: the input is refused first
	for _, tc := range []struct{ key, addr, want string }{
		{"user.rpc", "0.0.0.0:8080", "listen-on-all"},
		{"user.rpc", "[::]:8080", "listen-on-all"},
		{"user.rpc", ":8080", "no host"},
		{"user.rpc", "10.0.0.1", "not host:port"},
		{"", "10.0.0.1:8080", "key is empty"},
		{"user.rpc/", "10.0.0.1:8080", "must not end"},
	} {
		_, err := Register(context.Background(), cli, tc.key, tc.addr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register(%q, %q) = %v, want error with %q", tc.key, tc.addr, err, tc.want)
		}
	}
}
