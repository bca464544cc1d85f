package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/internal/testutil/certs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func clientTLS(t *testing.T, caFile, cert, key string) credentials.TransportCredentials {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conf := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(conf)
}

func TestListenerMutualTLS(t *testing.T) { eachDataplane(t, testListenerMutualTLS) }

func testListenerMutualTLS(t *testing.T, dp string) {
	b := backend.StartTest(t, "b")
	ca := certs.NewCA(t, "edge")
	cert, key := ca.Issue(t, "strait")
	clientCert, clientKey := ca.Issue(t, "client")
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: `+dp+`, default_cluster: g,
  tls: {cert: %s, key: %s, client_ca: %s, require_client_cert: true}}]
clusters: {g: {endpoints: [%s]}}
`, cert, key, ca.CertFile, b.Addr()))
	_, addr := startGateway(t, cfg)
	if from, err := sayHello(dial(t, addr, clientTLS(t, ca.CertFile, clientCert, clientKey))); err != nil || from != "b" {
		t.Fatalf("with a client certificate: %q, %v", from, err)
	}
	if _, err := sayHello(dial(t, addr, clientTLS(t, ca.CertFile, "", ""))); err == nil {
		t.Fatal("a client without a certificate was let in")
	}
}

func TestListenerCertificateReload(t *testing.T) { eachDataplane(t, testListenerCertificateReload) }

func testListenerCertificateReload(t *testing.T, dp string) {
	b := backend.StartTest(t, "b")
	ca1, ca2 := certs.NewCA(t, "one"), certs.NewCA(t, "two")
	cert1, key1 := ca1.Issue(t, "strait")
	cert2, key2 := ca2.Issue(t, "strait")
	dir := t.TempDir()
	cert, key := dir+"/cert.pem", dir+"/key.pem"
	copyFile(t, cert1, cert)
	copyFile(t, key1, key)
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: `+dp+`, default_cluster: g, tls: {cert: %s, key: %s}}]
clusters: {g: {endpoints: [%s]}}
`, cert, key, b.Addr()))
	_, addr := startGateway(t, cfg)
	if _, err := sayHello(dial(t, addr, clientTLS(t, ca1.CertFile, "", ""))); err != nil {
		t.Fatalf("first certificate: %v", err)
	}
	copyFile(t, cert2, cert)
	copyFile(t, key2, key)
	testutil.WaitFor(t, 10*time.Second, "new certificate served after rotation", func() bool {
		_, err := sayHello(dial(t, addr, clientTLS(t, ca2.CertFile, "", "")))
		return err == nil
	})
}

func TestUpstreamTLS(t *testing.T) { eachDataplane(t, testUpstreamTLS) }

func testUpstreamTLS(t *testing.T, dp string) {
	ca := certs.NewCA(t, "upstream")
	cert, key := ca.Issue(t, "backend")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	b := backend.StartTest(t, "secure", grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pair}})))
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: edge, address: 127.0.0.1:0, dataplane: `+dp+`, default_cluster: g}]
clusters: {g: {endpoints: [%s], tls: {ca: %s, server_name: localhost}}}
`, b.Addr(), ca.CertFile))
	_, addr := startGateway(t, cfg)
	if from, err := sayHello(dial(t, addr, nil)); err != nil || from != "secure" {
		t.Fatalf("through a TLS upstream: %q, %v", from, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}
