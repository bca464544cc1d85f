package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Client returns a client of this server (with its TLS certificate, if
// any), closed when the test ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return newClient(t, clientv3.Config{Endpoints: s.Endpoints(), TLS: s.clientTLS})
}

// ClientAs is Client authenticated as user.
func (s *Server) ClientAs(t testing.TB, user, pass string) *clientv3.Client {
	t.Helper()
	return newClient(t, clientv3.Config{Endpoints: s.Endpoints(), TLS: s.clientTLS, Username: user, Password: pass})
}

// EnableAuth creates user root with pass and turns authentication on;
// from then on only ClientAs(t, "root", pass) may read and write.
func (s *Server) EnableAuth(t testing.TB, pass string) {
	t.Helper()
	cli := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.UserAdd(ctx, "root", pass); err != nil {
		t.Fatalf("etcd user add: %v", err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatalf("etcd grant root: %v", err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatalf("etcd auth enable: %v", err)
	}
}

// NewClient returns a plain client of the given endpoints (a relay in
// front of a Server, say), closed when the test ends.
func NewClient(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	return newClient(t, clientv3.Config{Endpoints: endpoints})
}

func newClient(t testing.TB, cfg clientv3.Config) *clientv3.Client {
	t.Helper()
	cfg.DialTimeout = 5 * time.Second
	cfg.Logger = quietZap()
	// Reconnect soon after a restart: gRPC's default back-off grows past
	// the time a test waits.
	cfg.DialOptions = []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: time.Second},
	})}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
