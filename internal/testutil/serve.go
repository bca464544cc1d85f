package testutil

import (
	"net"
	"testing"
)

// Server serves a listener until Stop: strait's data paths and
// grpc.Server alike.
type Server interface {
	Serve(net.Listener) error
	Stop()
}

// Serve serves srv on a new loopback listener until the test ends and
// returns the listener's address.
func Serve(t testing.TB, srv Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}
