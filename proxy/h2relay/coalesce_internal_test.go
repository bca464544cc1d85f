package h2relay

import "testing"

// DATA for a leg that cannot send yet (no connection, no window) is held
// in one queue entry however many frames it came in, and empty frames
// add nothing; END_STREAM is kept.
func TestQueueCoalescesData(t *testing.T) {
	s := &stream{srv: &Server{o: Options{}.withDefaults()}}
	s.down.s, s.up.s = s, s
	s.rp.off = true // no replay buffer: the queue alone is under test
	s.up.queue = s.up.queueBuf[:0]
	for range 1000 {
		forwardData(&s.down, nil, false, nil)
	}
	if n := len(s.up.queue); n != 0 {
		t.Fatalf("%d entries queued for empty frames", n)
	}
	buf := []byte("ab")
	for range 1000 {
		forwardData(&s.down, buf, false, nil)
	}
	forwardData(&s.down, nil, true, nil)
	if n := len(s.up.queue); n != 1 {
		t.Fatalf("%d entries queued, want 1", n)
	}
	ch := s.up.queue[0]
	if len(ch.data) != 2000 || string(ch.data[:4]) != "abab" || !ch.end || ch.borrowed {
		t.Fatalf("queued %d bytes %q…, end %v, borrowed %v", len(ch.data), ch.data[:4], ch.end, ch.borrowed)
	}
	if held, used := s.held(), s.srv.o.Budget.Stats().Used; held != 2000 || used != 2000 {
		t.Fatalf("held %d, budget used %d; want 2000", held, used)
	}
	s.up.finishLocked()
	if used := s.srv.o.Budget.Stats().Used; used != 0 {
		t.Fatalf("budget used %d after the leg closed", used)
	}
}
