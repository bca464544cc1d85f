package etcd

import (
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/certs"
	"github.com/straitproxy/strait/internal/testutil/etcdtest"
	"github.com/straitproxy/strait/internal/testutil/guardtest"
	"github.com/straitproxy/strait/upstream"
)

func sourceFor(t *testing.T, cfg Config) *Source {
	t.Helper()
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 500 * time.Millisecond
	}
	src, err := New(cfg, nil, fastOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// waitError waits until g's first report is an error containing want.
func waitError(t *testing.T, g *upstream.Guard, want string) {
	t.Helper()
	testutil.WaitFor(t, 15*time.Second, "an error mentioning "+want, func() bool {
		s := g.Snapshot()
		return s.State == upstream.NeverSynced && s.LastErr != nil && strings.Contains(s.LastErr.Error(), want)
	})
}

// TestTLSClientCertificate: etcd over TLS with client certificates, as
// configured with tls: {ca, cert, key}.
func TestTLSClientCertificate(t *testing.T) {
	ca := certs.NewCA(t, "etcd")
	srv := etcdtest.Start(t, etcdtest.WithTLS(ca))
	register(t, srv.Client(t), "user.rpc", "10.0.0.1:80", 60)
	cert, key := ca.Issue(t, "strait")
	ep := srv.Endpoints()[0]

	g, _ := guardtest.Run(t, "user", sourceFor(t, Config{Hosts: []string{"https://" + ep}, Key: "user.rpc",
		TLS: &TLS{CA: ca.CertFile, Cert: cert, Key: key}}), nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, "10.0.0.1:80")

	// Without a client certificate etcd refuses the connection.
	g, _ = guardtest.Run(t, "user", sourceFor(t, Config{Hosts: []string{ep}, Key: "user.rpc", TLS: &TLS{CA: ca.CertFile}}), nil)
	waitError(t, g, "etcd list")
}

// TestUserPassword: etcd with authentication, as configured with user and
// pass; a wrong password and an etcd down at start are both reported
// without blocking.
func TestUserPassword(t *testing.T) {
	srv := etcdtest.Start(t)
	srv.EnableAuth(t, "s3cret")
	register(t, srv.ClientAs(t, "root", "s3cret"), "user.rpc", "10.0.0.1:80", 60)
	cfg := Config{Hosts: srv.Endpoints(), Key: "user.rpc", User: "root", Pass: "s3cret", DialTimeout: 2 * time.Second}

	g, stop := guardtest.Run(t, "user", sourceFor(t, cfg), nil)
	waitSet(t, g, upstream.Synced, 5*time.Second, "10.0.0.1:80")
	stop()

	bad := cfg
	bad.Pass = "wrong"
	g, stop = guardtest.Run(t, "user", sourceFor(t, bad), nil)
	waitError(t, g, "authentication failed")
	stop()

	// Authenticating needs etcd: with etcd down the client cannot even be
	// created, and the Source says so and keeps trying.
	srv.Stop()
	g, _ = guardtest.Run(t, "user", sourceFor(t, cfg), nil)
	waitError(t, g, "etcd connect")
	srv.Restart()
	waitSet(t, g, upstream.Synced, 10*time.Second, "10.0.0.1:80")
}
