package h2relay

import (
	"sync/atomic"
	"time"

	"github.com/straitproxy/strait/health"
	"google.golang.org/grpc/codes"
)

// stream is one relayed call: the client's stream (down) and the
// upstream stream (up). Each leg is guarded by its connection's mu; an
// up leg not yet on a connection is guarded by its pool's mu.
type stream struct {
	down, up leg
	srv      *Server
	bal      Balancer
	call     Call
	hdrs     []hpackField // request headers (a copy): sent again by a replay
	attempts int32        // beside ended, so that the two share a word
	ended    atomic.Bool
	rp       replay      // guarded by the up leg's lock
	upAt     uint64      // where the up leg's headers went in its connection's output
	rs       *retryState // set at a call's first retry; see retry.go

	// Owned by the client connection's reader.
	contentLen, bodyLen int64

	// deadline is when the call must end, on the relay's clock
	// (sinceStart), from the request's grpc-timeout; 0 when it has
	// none. Set before the call is published, then only read.
	deadline time.Duration
	// For Options.Observe: set when the call opens; code under the
	// client connection's mu, once a status goes out.
	method, cluster string
	start           time.Duration // on the relay's clock (sinceStart)
	begun           any           // Options.Begin's result
	detail          *callDetail   // with Options.Detail only
	code            codes.Code
	coded           bool
}

// failUnavailable ends a call that never reached an endpoint.
func (s *stream) failUnavailable(msg string) {
	failDown(&s.down, codes.Unavailable, msg)
}

// end reports the call's outcome to the balancer once; false when it
// was reported already. A re-pick replaces call only while ended is set,
// so call is read after the swap, never before.
func (s *stream) end(o Outcome) bool {
	if !s.ended.CompareAndSwap(false, true) {
		return false
	}
	if s.call != nil {
		if s.expired(o) {
			o.Local = true
		}
		s.call.End(o)
	}
	return true
}

// expired says whether o is the call running out of its own deadline: a
// DeadlineExceeded, or the endpoint resetting the stream, within
// health.DeadlineSlack of the grpc-timeout the client sent. The
// endpoint got the same timeout and gave up with the client; that says
// nothing about it.
func (s *stream) expired(o Outcome) bool {
	if s.deadline == 0 || o.Local || !(o.reset || o.Err == nil && o.Code == codes.DeadlineExceeded) {
		return false
	}
	return sinceStart() >= s.deadline-health.DeadlineSlack
}

// upClosed frees the stream slot of a finished up leg on c.
func (s *stream) upClosed(c *conn) {
	uc := c.up
	n := uc.active.Add(-1)
	if n == 0 {
		uc.idleAt.Store(time.Now().UnixNano())
		if uc.draining.Load() {
			c.closeLocked()
		}
	}
	if uc.p.nwaiting.Load() > 0 {
		uc.p.t.wg.Add(1)
		go uc.p.redispatch()
	}
}
