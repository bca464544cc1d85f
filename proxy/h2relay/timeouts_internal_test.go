package h2relay

import (
	"testing"
	"time"
)

// Calls that end leave the expiry heap within a constant factor of the
// live ones, and the heap still yields the earliest expiry first.
func TestExpiryHeapStaysBounded(t *testing.T) {
	srv := &Server{o: Options{}.withDefaults()}
	d := &downConn{conn: &conn{}}
	now := sinceStart()
	var live []*stream
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.stopTimersLocked()
	for i := range 10000 {
		// Expiries an hour away, in a scrambled order.
		s := &stream{srv: srv, start: now, deadline: now + time.Hour + time.Duration(i*7919%10000)*time.Millisecond}
		d.scheduleLocked(s, now)
		if i%1000 == 0 {
			live = append(live, s)
			continue
		}
		s.down.closed = true
		d.endedLocked(s)
		if s.down.expiring {
			t.Fatal("an ended call is still expiring")
		}
	}
	if n := len(d.exp.heap); n > 2*len(live)+64 {
		t.Fatalf("heap holds %d calls for %d live ones", n, len(live))
	}
	if d.exp.live != len(live) {
		t.Fatalf("live = %d, want %d", d.exp.live, len(live))
	}
	var last time.Duration
	for len(d.exp.heap) > 0 {
		s := d.exp.pop()
		if s.expiry() < last {
			t.Fatalf("popped %v after %v", s.expiry(), last)
		}
		last = s.expiry()
	}
}
