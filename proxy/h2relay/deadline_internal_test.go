package h2relay

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/grpctimeout"
)

func TestCallDeadline(t *testing.T) {
	start := 5 * time.Second
	for _, c := range []struct {
		fields []hpackField
		want   time.Duration
	}{
		{nil, 0},
		{[]hpackField{{Name: "grpc-timeout", Value: "250m"}}, start + 250*time.Millisecond},
		{[]hpackField{{Name: "grpc-timeout", Value: "bogus"}}, 0},
		{[]hpackField{{Name: "grpc-timeout", Value: "99999999H"}}, start + maxDeadline},
	} {
		if got := callDeadline(c.fields, start); got != c.want {
			t.Errorf("callDeadline(%v) = %v, want %v", c.fields, got, c.want)
		}
	}
}

// A call that waited passes on the time it has left, never more.
func TestPassDeadlineAfterWait(t *testing.T) {
	now := sinceStart()
	s := &stream{start: now - time.Second, deadline: now + time.Second}
	hdrs := []hpackField{{Name: ":path", Value: "/a.B/C"}, {Name: "grpc-timeout", Value: "2S"}}
	s.passDeadline(hdrs)
	left, ok := grpctimeout.Parse(hdrs[1].Value)
	if !ok || left > time.Second || left < time.Second/2 {
		t.Fatalf("grpc-timeout after a 1s wait of 2s = %q, want at most 1s left", hdrs[1].Value)
	}
	// Started "later" than now: no scheduling delay can make it look
	// as if it waited.
	fresh := &stream{start: sinceStart() + time.Minute, deadline: sinceStart() + time.Hour}
	hdrs[1].Value = "1H"
	fresh.passDeadline(hdrs)
	if hdrs[1].Value != "1H" {
		t.Fatalf("a call that did not wait had its grpc-timeout rewritten to %q", hdrs[1].Value)
	}
}
