// Package etcdtest runs a real etcd server (the embedded one) on free
// loopback ports for tests, and lets a test stop it, restart it on the same
// ports, or restart it with its data wiped.
//
// Clients reach it through a relay on its own port: etcd's Close lets open
// streams run for up to its request timeout (seconds), which a crash would
// not, so Stop first cuts the relay and every client connection drops, and
// new ones are refused, as with a dead etcd.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/straitproxy/strait/internal/testutil/relay"
)

// startTimeout bounds how long a start may take before the test fails.
const startTimeout = 20 * time.Second

// Server is one embedded etcd member. Its methods are safe for concurrent
// use; Stop is called by the test's cleanup if the test did not.
type Server struct {
	t          testing.TB
	dir        string
	clientURL  url.URL
	front      *relay.Relay
	peerURL    url.URL
	mu         sync.Mutex
	etcd       *embed.Etcd
	generation int
}

// Start runs a new etcd on free loopback ports with a temporary data dir,
// and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:         t,
		dir:       t.TempDir(),
		clientURL: url.URL{Scheme: "http", Host: freeAddr(t)},
		peerURL:   url.URL{Scheme: "http", Host: freeAddr(t)},
	}
	s.front = relay.Start(t, s.clientURL.Host)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// Endpoints are the client addresses (host:port) to dial.
func (s *Server) Endpoints() []string { return []string{s.front.Addr()} }

// Client returns a client of this server, closed when the test ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return NewClient(t, s.Endpoints()...)
}

// NewClient returns a client of the given endpoints (a relay in front of
// a Server, say), closed when the test ends.
func NewClient(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: quietZap(),
		// Reconnect soon after a restart: gRPC's default back-off grows
		// past the time a test waits.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: time.Second},
		})},
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Stop stops the server, as a crash of the etcd process would (the data
// dir stays). It does nothing if the server is already stopped.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.etcd == nil {
		return
	}
	s.front.Cut()
	s.etcd.Close()
	<-s.etcd.Server.StopNotify()
	s.etcd = nil
}

// Restart stops the server if it runs and starts it again on the same
// ports with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// RestartWiped stops the server if it runs and starts it again on the same
// ports with an empty data dir: every key and lease is gone.
func (s *Server) RestartWiped() {
	s.t.Helper()
	s.Stop()
	if err := os.RemoveAll(s.dir); err != nil {
		s.t.Fatalf("wipe etcd data: %v", err)
	}
	s.start()
}

func (s *Server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation++
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = s.dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(quietZap())
	cfg.ListenClientUrls = []url.URL{s.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{s.clientURL}
	cfg.ListenPeerUrls = []url.URL{s.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{s.peerURL}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, s.peerURL.String())
	cfg.InitialClusterToken = fmt.Sprintf("etcdtest-%d", s.generation)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		s.t.Fatalf("start etcd: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(startTimeout):
		e.Close()
		s.t.Fatalf("etcd not ready after %v", startTimeout)
	}
	s.etcd = e
	s.front.Restore()
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// quietZap keeps etcd's client from logging its retries into test output.
func quietZap() *zap.Logger { return zap.NewNop() }
