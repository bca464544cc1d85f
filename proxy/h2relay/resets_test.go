package h2relay_test

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
)

// Frames a client sent before it saw the relay's reset of a stream are
// ignored (RFC 9113 §5.1): no RST_STREAM in answer, and the connection
// lives on.
func TestFramesOnAStreamTheRelayResetAreIgnored(t *testing.T) {
	up := startFakeUpstream(t, nil)
	r := dialRaw(t, startRelay(t, h2relay.Options{MaxConcurrentStreams: 1}, up.addr()))
	if err := r.headers(1, false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the call at the endpoint", func() bool { return up.requests.Load() == 1 })
	if err := r.headers(3, false); err != nil {
		t.Fatal(err)
	}
	if code := r.reset(3); code != http2.ErrCodeRefusedStream {
		t.Fatalf("second stream reset with %v, want REFUSED_STREAM", code)
	}
	if err := r.fr.WriteData(3, false, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := r.headers(3, true); err != nil {
		t.Fatal(err)
	}
	r.fr.WritePing(false, [8]byte{1})
	r.until("PING ack", func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			t.Fatalf("answered a late frame with %v", f)
		case *http2.PingFrame:
			return f.IsAck()
		}
		return false
	})
}

// HEADERS on a stream the client closed itself is a connection error
// of type STREAM_CLOSED (RFC 9113 §5.1): only a reset by the relay
// excuses frames on a closed stream.
func TestHeadersOnAStreamTheClientClosedEndTheConnection(t *testing.T) {
	up := startFakeUpstream(t, nil)
	r := dialRaw(t, startRelay(t, h2relay.Options{}, up.addr()))
	if err := r.headers(1, false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the call at the endpoint", func() bool { return up.requests.Load() == 1 })
	r.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	if err := r.headers(1, true); err != nil {
		t.Fatal(err)
	}
	r.goAway(http2.ErrCodeStreamClosed)
}
