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

// Whatever DATA frames a client sends for a leg that cannot send yet,
// its queue holds one entry with every byte in order, the budget counts
// exactly those bytes, and closing the leg gives them all back.
func FuzzLegQueue(f *testing.F) {
	f.Add([]byte{3, 0, 0, 5, 0x80 | 2})
	f.Add([]byte{0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := &stream{srv: &Server{o: Options{}.withDefaults()}}
		s.down.s, s.up.s = s, s
		s.rp.off = true
		s.up.queue = s.up.queueBuf[:0]
		var want []byte
		ended := false
		for i, op := range ops {
			if ended {
				break
			}
			n, end := int(op&0x7f), op&0x80 != 0
			frame := make([]byte, n)
			for j := range frame {
				frame[j] = byte(i + j)
			}
			forwardData(&s.down, frame, end, nil)
			clear(frame) // the reader reuses its buffer
			for j := range n {
				want = append(want, byte(i+j))
			}
			ended = end
		}
		if len(s.up.queue) > 1 {
			t.Fatalf("%d queue entries", len(s.up.queue))
		}
		var got []byte
		gotEnd := false
		if len(s.up.queue) == 1 {
			got, gotEnd = s.up.queue[0].data, s.up.queue[0].end
		}
		if string(got) != string(want) || gotEnd != ended {
			t.Fatalf("queued %v end %v, want %v end %v", got, gotEnd, want, ended)
		}
		if used := s.srv.o.Budget.Stats().Used; used != int64(len(want)) {
			t.Fatalf("budget counts %d bytes, the queue holds %d", used, len(want))
		}
		s.up.finishLocked()
		if used := s.srv.o.Budget.Stats().Used; used != 0 {
			t.Fatalf("budget counts %d bytes after the leg closed", used)
		}
	})
}
