package h2relay

import (
	"net"
	"testing"
)

// An upstream stream starts with a window of upWindowStart and grows,
// with each update, to StreamWindow only while its client keeps up;
// either way the window given is what was granted.
func TestUpstreamWindowGrowsOnlyWhileTheClientKeepsUp(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	o := Options{}.withDefaults()
	c := newConn(a, &o)
	c.up = &upConn{conn: c}
	if got := c.initialWindow(); got != upWindowStart {
		t.Fatalf("upstream initial window %d, want %d", got, upWindowStart)
	}
	fast := &leg{id: 1, recvWin: o.upWindow(), grant: o.upWindow()}
	slow := &leg{id: 3, recvWin: o.upWindow(), grant: o.upWindow()}
	var bt batch // collects the kicks: no flusher runs
	c.mu.Lock()
	for range 64 {
		const frame = 16 << 10
		fast.recvWin -= frame
		c.refundStreamLocked(fast, frame, &bt, true)
		slow.recvWin -= frame
		c.refundStreamLocked(slow, frame, &bt, false)
	}
	c.mu.Unlock()
	if fast.grant != o.StreamWindow {
		t.Errorf("a stream whose client keeps up has a window of %d, want %d", fast.grant, o.StreamWindow)
	}
	if slow.grant != upWindowStart {
		t.Errorf("a stream whose client lags has a window of %d, want %d", slow.grant, upWindowStart)
	}
	for _, l := range []*leg{fast, slow} {
		if l.recvWin+l.unacked != l.grant {
			t.Errorf("stream %d: window %d + unacked %d, want the %d granted", l.id, l.recvWin, l.unacked, l.grant)
		}
	}
}
