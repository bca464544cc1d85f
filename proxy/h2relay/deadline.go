package h2relay

import (
	"time"

	"github.com/straitproxy/strait/internal/grpctimeout"
)

// callDeadline is when a call must end on the relay's clock
// (sinceStart): its grpc-timeout counted from start; 0 when the request
// has none, or a malformed one (the endpoint judges that).
func callDeadline(fields []hpackField, start time.Duration) time.Duration {
	for i := range fields {
		if fields[i].Name == "grpc-timeout" {
			d, ok := grpctimeout.Parse(fields[i].Value)
			if !ok {
				return 0
			}
			return start + min(d, maxDeadline)
		}
	}
	return 0
}

// maxDeadline caps a timeout so that start plus it cannot overflow:
// about 290 years, never in practice.
const maxDeadline = time.Duration(1 << 62)

// remainingAfter is how long a call may wait before its grpc-timeout is
// rewritten to the time left: the header is passed on as the client sent
// it when the call starts upstream within this (nearly always), which
// saves an allocation per call; the endpoint's deadline is then at most
// this much later than the client's.
const remainingAfter = time.Millisecond

// passDeadline rewrites the grpc-timeout of hdrs, about to go upstream,
// to the time s has left, when s waited long enough for it to matter.
// hdrs are s's own (see pool.enqueue).
func (s *stream) passDeadline(hdrs []hpackField) {
	if s.deadline == 0 {
		return
	}
	now := sinceStart()
	if now-s.start < remainingAfter {
		return
	}
	for i := range hdrs {
		if hdrs[i].Name == "grpc-timeout" {
			hdrs[i].Value = grpctimeout.Format(s.deadline - now)
			return
		}
	}
}

// timeLeft is how long the call has until its client's deadline at now
// (on the relay's clock); ok is false when the client set none.
func (s *stream) timeLeft(now time.Duration) (left time.Duration, ok bool) {
	if s.deadline == 0 {
		return 0, false
	}
	return s.deadline - now, true
}
