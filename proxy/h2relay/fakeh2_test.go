package h2relay_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// serveFakeH2 accepts connections on a loopback listener for a fake
// HTTP/2 upstream: each connection gets a deadline of timeout, its client
// preface is read, and serve runs on a goroutine of its own (the
// connection is closed when serve returns). The listener closes at the
// test's end, which waits for every serve to return.
func serveFakeH2(t *testing.T, timeout time.Duration, serve func(nc net.Conn)) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(timeout))
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(nc, preface); err != nil {
					return
				}
				serve(nc)
			})
		}
	})
	t.Cleanup(func() { lis.Close(); wg.Wait() })
	return lis
}
