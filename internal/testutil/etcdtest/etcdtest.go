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
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/certs"
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
	// serverTLS, when set, makes clients use TLS with a certificate;
	// clientTLS is what this package's clients present.
	serverTLS *transport.TLSInfo
	clientTLS *tls.Config
}

// Option configures a Server.
type Option func(testing.TB, *Server)

// WithTLS serves clients over TLS only, with a certificate from ca, and
// requires client certificates from ca. Server.Client presents one.
func WithTLS(ca *certs.CA) Option {
	return func(t testing.TB, s *Server) {
		cert, key := ca.Issue(t, "etcd")
		s.serverTLS = &transport.TLSInfo{CertFile: cert, KeyFile: key, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
		ccert, ckey := ca.Issue(t, "etcd-client")
		tc, err := (&transport.TLSInfo{CertFile: ccert, KeyFile: ckey, TrustedCAFile: ca.CertFile}).ClientConfig()
		if err != nil {
			t.Fatalf("etcd client TLS: %v", err)
		}
		s.clientTLS = tc
		s.clientURL.Scheme = "https"
	}
}

// Start runs a new etcd on free loopback ports with a temporary data dir,
// and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		t:         t,
		dir:       t.TempDir(),
		clientURL: url.URL{Scheme: "http", Host: testutil.FreeAddr(t)},
		peerURL:   url.URL{Scheme: "http", Host: testutil.FreeAddr(t)},
	}
	for _, o := range opts {
		o(t, s)
	}
	s.front = relay.Start(t, s.clientURL.Host)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// Endpoints are the client addresses (host:port) to dial.
func (s *Server) Endpoints() []string { return []string{s.front.Addr()} }

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
	if s.serverTLS != nil {
		cfg.ClientTLSInfo = *s.serverTLS
	}
	// bcrypt's minimum cost (4): the default makes every authentication
	// take seconds on a loaded test machine.
	cfg.BcryptCost = 4
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

// quietZap keeps etcd from logging into test output.
func quietZap() *zap.Logger { return zap.NewNop() }
