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

// readFakeFrames reads frames on a fake upstream's connection until the
// read fails: it acknowledges the peer's SETTINGS and PINGs, as every
// HTTP/2 endpoint must, and hands every other frame to handle.
func readFakeFrames(fr *http2.Framer, handle func(f http2.Frame)) {
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		default:
			handle(f)
		}
	}
}
