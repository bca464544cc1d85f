package h2relay

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// pingFrame is a PING as the reader would hand it to onPing.
func pingFrame(t *testing.T, data [8]byte) *http2.PingFrame {
	t.Helper()
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, &buf)
	fr.WritePing(false, data)
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	return f.(*http2.PingFrame)
}

// pipeConn is a relay connection writing into one end of a pipe, its
// flusher started on demand; each write arrives as one read at the
// other end.
func pipeConn(t *testing.T, ackDelay time.Duration) (*conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	o := Options{}.withDefaults()
	c := newConn(a, &o)
	c.ackDelay = ackDelay
	var wg sync.WaitGroup
	c.startFlusher(&wg)
	t.Cleanup(func() {
		c.mu.Lock()
		c.closeLocked()
		c.mu.Unlock()
		wg.Wait()
		b.Close()
	})
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c, b
}

// readWrite reads what one write of the relay carried and parses it.
func readWrite(t *testing.T, peer net.Conn) []http2.Frame {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := peer.Read(buf)
	if err != nil {
		t.Fatalf("reading the relay's write: %v", err)
	}
	fr := http2.NewFramer(nil, bytes.NewReader(buf[:n]))
	var frames []http2.Frame
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return frames
		}
		frames = append(frames, f)
	}
}

// A PING's acknowledgement waits for the connection's next write and
// goes out in it, first: gRPC peers ping once per round trip, and an
// ack in a write of its own cost a system call and a wake-up of the peer.
func TestPingAckRidesWithTheNextWrite(t *testing.T) {
	c, peer := pipeConn(t, time.Hour)
	c.onPing(pingFrame(t, [8]byte{1, 2, 3}))
	c.rb.flush() // as the reader does once it has handled what it read
	peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := peer.Read(make([]byte, 64)); err == nil {
		t.Fatalf("the ack went out alone (%d bytes)", n)
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.mu.Lock()
	c.wfr.WriteWindowUpdate(0, 1000)
	c.mu.Unlock()
	c.kick()
	frames := readWrite(t, peer)
	if len(frames) != 2 {
		t.Fatalf("one write carried %d frames, want the ack and the update", len(frames))
	}
	if p, ok := frames[0].(*http2.PingFrame); !ok || !p.IsAck() || p.Data != [8]byte{1, 2, 3} {
		t.Fatalf("first frame %v, want the PING's ack", frames[0])
	}
	if _, ok := frames[1].(*http2.WindowUpdateFrame); !ok {
		t.Fatalf("second frame %v, want the WINDOW_UPDATE", frames[1])
	}
}

// With nothing else to write, the acknowledgement goes out alone once
// the delay is up.
func TestPingAckGoesOutAloneWhenIdle(t *testing.T) {
	c, peer := pipeConn(t, pingAckDelay)
	for i := range byte(3) {
		c.onPing(pingFrame(t, [8]byte{i}))
		frames := readWrite(t, peer)
		if len(frames) != 1 {
			t.Fatalf("ping %d: the write carried %d frames, want the ack alone", i, len(frames))
		}
		if p, ok := frames[0].(*http2.PingFrame); !ok || !p.IsAck() || p.Data != [8]byte{i} {
			t.Fatalf("ping %d: got %v, want its ack", i, frames[0])
		}
	}
}
