package h2relay_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// refuser is an HTTP/2 server that answers the first request it sees
// with GOAWAY(last stream 0): the stream was never processed. It is a
// fake because no real server refuses a stream on demand; what matters
// here is the relay's reaction.
type refuser struct {
	lis     net.Listener
	streams atomic.Int64
}

func startRefuser(t *testing.T) *refuser {
	r := &refuser{}
	r.lis = serveFakeH2(t, 10*time.Second, r.serve)
	return r
}

func (r *refuser) serve(nc net.Conn) {
	fr := http2.NewFramer(nc, nc)
	fr.WriteSettings()
	readFakeFrames(fr, func(f http2.Frame) {
		if _, ok := f.(*http2.HeadersFrame); ok {
			r.streams.Add(1)
			fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}
	})
}

// A stream the endpoint refused (beyond GOAWAY's last stream id) reaches
// the client as REFUSED_STREAM, which gRPC retries transparently; the
// retry lands on the other endpoint and the call succeeds.
func TestRefusedStreamIsRetriedByTheClient(t *testing.T) {
	ref := startRefuser(t)
	b := startBackend(t, "b0")
	client := dialClient(t, startRelay(t, h2relay.Options{}, ref.lis.Addr().String(), b.addr))
	for i := range 4 {
		if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if ref.streams.Load() == 0 {
		t.Fatal("no call reached the refusing endpoint")
	}
}
