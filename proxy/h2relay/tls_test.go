package h2relay_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/proxy/h2relay"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// After a TLS handshake that chose h2, ServeConn relays as over h2c.
func TestServeConnOverTLS(t *testing.T) {
	b := startBackend(t, "b0")
	srv, _ := startRelayServer(t, h2relay.Options{}, b.addr)
	cert, roots := selfSigned(t)
	lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { lis.Close(); srv.Stop(); wg.Wait() })
	wg.Go(func() {
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				tc := nc.(*tls.Conn)
				if tc.Handshake() != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
					tc.Close()
					return
				}
				srv.ServeConn(tc)
			})
		}
	})
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{ResponseSize: 10})
	if err != nil || resp.GetHostname() != "b0" {
		t.Fatalf("over TLS: %v", err)
	}
}

func TestUpstreamTLS(t *testing.T) {
	cert, roots := selfSigned(t)
	b := startBackend(t, "b0", grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	client := dialClient(t, startRelay(t, h2relay.Options{UpstreamTLS: &tls.Config{RootCAs: roots}}, b.addr))
	resp, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{})
	if err != nil || resp.GetHostname() != "b0" {
		t.Fatalf("to a TLS endpoint: %v", err)
	}
}

// A TLSBalancer's own configuration reaches its endpoints over TLS while
// the server's default stays h2c.
func TestTLSBalancer(t *testing.T) {
	cert, roots := selfSigned(t)
	b := startBackend(t, "b0", grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	bal := tlsRecorder{&recorder{addr: b.addr}, &tls.Config{RootCAs: roots}}
	_, addr := startRelayBal(t, h2relay.Options{}, bal)
	client := dialClient(t, addr)
	if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("to a TLS endpoint: %v", err)
	}
}

type tlsRecorder struct {
	*recorder
	conf *tls.Config
}

func (r tlsRecorder) UpstreamTLS() *tls.Config { return r.conf }
