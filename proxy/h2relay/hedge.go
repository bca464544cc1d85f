package h2relay

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
)

// Hedging (gRFC A6): a call on an idempotent route whose first attempt
// has no response headers after the policy's delay is sent again to
// another endpoint, and again after each further delay, up to
// MaxAttempts in all; the first attempt to answer wins and the others
// are cancelled.
//
// The first attempt is the call's own up leg. Each further one is a
// shadow: a stream of its own whose down leg is closed from the start,
// so that nothing it receives reaches the client. A shadow that wins is
// moved into the call's up leg (hedge_win.go), after the first attempt
// is taken off its connection. A call with no hedge policy pays for
// none of this: its retryState, where the hedge lives, stays nil.
//
// Goroutines: one per hedged call (hedging.run), which sends the
// further attempts and, once the call is decided or over, cancels those
// that lost. Locks: hedging.mu is a leaf, taken under a connection's,
// a pool's or the detached mutex, with nothing taken under it.

// HedgePolicy is a route's hedging policy, with gRFC A6's meaning.
type HedgePolicy struct {
	// MaxAttempts counts the first attempt too (2 or more).
	MaxAttempts int
	// Delay is how long an attempt waits for response headers before
	// the next one is sent.
	Delay time.Duration
	// DelayFactor, when above 0, makes the delay of each call that
	// factor times the latency estimate of its first endpoint (an
	// EstimatedCall's), never below Delay.
	DelayFactor float64
	// NonFatalCodes are statuses that do not end the call while
	// another attempt is out or may still be sent: the next attempt
	// then goes at once.
	NonFatalCodes []codes.Code
}

func (p *HedgePolicy) nonFatal(c codes.Code) bool { return slices.Contains(p.NonFatalCodes, c) }

// HedgeRouter is a Router that also names each method's hedging policy.
type HedgeRouter interface {
	Router
	// HedgePolicy is method's policy; nil means no hedging.
	HedgePolicy(method string) *HedgePolicy
}

// RetryHedge is a hedged attempt sent (a RetryEvent).
const RetryHedge RetryEvent = "hedge"

// hedging is a hedged call's shared state. s is the call; its up leg is
// the first attempt, and after a shadow wins, the winner.
type hedging struct {
	p     *HedgePolicy
	s     *stream
	delay time.Duration // between attempts: set by start
	kick  chan struct{} // an attempt ended: send the next one now
	done  chan struct{} // closed once the call is decided or over

	mu      sync.Mutex
	shadows []*stream
	tried   []string
	sent    int     // attempts sent, the first included
	live    int     // attempts not yet ended
	noMore  bool    // no further attempt will be sent
	decided bool    // an attempt won
	winner  *stream // the shadow that won, nil when the first attempt did
	moved   bool    // the winner is in the call's up leg now
	stopped bool
	// awaitEnd: an attempt is due but the client is still sending; the
	// request's end sends it (requestEndedLocked). Set under the call's
	// up leg lock, so the end cannot slip in between.
	awaitEnd bool
	last     Outcome // the last status of an attempt that ended non-fatally
}

// hedgeOf is s's hedging, nil when s is not hedged.
func (s *stream) hedgeOf() *hedging {
	if s.rs == nil {
		return nil
	}
	return s.rs.hedge
}

// hedgePolicy is path's hedging policy under the current routes.
func (srv *Server) hedgePolicy(path string) *HedgePolicy {
	if hr := srv.routes.Load().hedges; hr != nil {
		return hr.HedgePolicy(path)
	}
	return nil
}

// prepareHedging makes s a hedged call; before s is published.
func (s *stream) prepareHedging(p *HedgePolicy) *hedging {
	hs := &hedging{p: p, s: s, kick: make(chan struct{}, 1), done: make(chan struct{}), sent: 1, live: 1}
	s.rs = &retryState{hedge: hs}
	return hs
}

// start runs the hedging of a call dispatched to its first endpoint;
// called by the client connection's reader.
func (hs *hedging) start() {
	mu := hs.s.down.lock() // a re-pick writes call under it
	call := hs.s.call
	mu.Unlock()
	addr := call.Addr()
	hs.delay = hs.p.Delay
	if ec, ok := call.(EstimatedCall); ok && hs.p.DelayFactor > 0 {
		hs.delay = max(hs.delay, time.Duration(hs.p.DelayFactor*float64(ec.Latency())))
	}
	hs.mu.Lock()
	hs.tried = append(hs.tried, addr)
	hs.mu.Unlock()
	srv := hs.s.srv
	srv.wg.Add(1) // the caller is a connection goroutine: the group is not at zero
	go func() {
		defer srv.wg.Done()
		hs.run()
	}()
}

// run sends an attempt after each delay, or at once when one ended
// non-fatally, until the call is decided or over; then cancels the
// attempts that lost.
func (hs *hedging) run() {
	t := time.NewTimer(hs.delay)
	defer t.Stop()
	for {
		select {
		case <-hs.done:
			hs.cancelLosers()
			return
		case <-hs.s.srv.quit:
			return // the pools close, and every attempt with them
		case <-t.C:
		case <-hs.kick:
		}
		if hs.launch() {
			t.Reset(hs.delay)
		}
		hs.failIfOut()
	}
}

// requestEndedLocked is told, under s's up leg lock, that the client's
// request ended; it returns s's hedging when an attempt waited for that,
// to be poked once the lock is released.
func (s *stream) requestEndedLocked() *hedging {
	hs := s.hedgeOf()
	if hs == nil {
		return nil
	}
	hs.mu.Lock()
	due := hs.awaitEnd
	hs.awaitEnd = false
	hs.mu.Unlock()
	if !due {
		return nil
	}
	return hs
}

// stop marks the call decided or over: run cancels the losers.
func (hs *hedging) stop() {
	hs.mu.Lock()
	first := !hs.stopped
	hs.stopped = true
	hs.mu.Unlock()
	if first {
		close(hs.done)
	}
}

func (hs *hedging) poke() {
	select {
	case hs.kick <- struct{}{}:
	default:
	}
}

// canSendLocked says whether a further attempt may still be sent.
func (hs *hedging) canSendLocked() bool {
	return !hs.noMore && !hs.decided && hs.sent < hs.p.MaxAttempts
}

// launch sends the next attempt if the call still wants one; true when
// a later one may follow.
func (hs *hedging) launch() (again bool) {
	s := hs.s
	mu := s.up.lock()
	if s.up.closed || s.rp.off {
		over := s.rp.over && !s.up.closed
		mu.Unlock()
		hs.giveUp(NotRetriedBuffer, over)
		return false
	}
	if !s.rp.end {
		// The client is still sending: hedging waits for the whole
		// request, and the request's end sends the attempt.
		hs.mu.Lock()
		hs.awaitEnd = true
		hs.mu.Unlock()
		mu.Unlock()
		return false
	}
	body, hdrs := s.rp.body, slices.Clone(s.hdrs)
	mu.Unlock()

	hs.mu.Lock()
	if !hs.canSendLocked() || hs.stopped {
		hs.mu.Unlock()
		return false
	}
	n := hs.sent
	tried := slices.Clone(hs.tried)
	hs.mu.Unlock()
	if b := budgetOf(s.bal); b != nil && !b.withdraw() {
		hs.giveUp(NotRetriedBudget, true)
		return false
	}
	call, ok := pickAvoiding(s.bal, tried)
	if !ok {
		hs.giveUp("", false) // every endpoint has an attempt
		return false
	}
	h := s.shadow(hs, call, hdrs, body, n)
	hs.mu.Lock()
	if !hs.canSendLocked() || hs.stopped {
		hs.mu.Unlock()
		call.End(Outcome{Local: true})
		return false
	}
	hs.sent++
	hs.live++
	hs.shadows = append(hs.shadows, h)
	hs.tried = append(hs.tried, call.Addr())
	more := hs.sent < hs.p.MaxAttempts
	hs.mu.Unlock()
	s.srv.retried(s.cluster, RetryHedge)
	if !s.srv.tr.pool(call.Addr(), s.srv.upstreamTLS(s.bal)).enqueue(h) {
		h.end(Outcome{Err: errEndpointDown})
		hs.shadowDone(h)
	}
	return more
}

// giveUp sends no further attempt, counting event when count is set.
func (hs *hedging) giveUp(event RetryEvent, count bool) {
	hs.mu.Lock()
	hs.noMore = true
	hs.mu.Unlock()
	if count && event != "" {
		hs.s.srv.retried(hs.s.cluster, event)
	}
}

// failIfOut ends the call with the last attempt's status when every
// attempt ended non-fatally and no further one will be sent.
func (hs *hedging) failIfOut() {
	hs.mu.Lock()
	out := hs.live == 0 && !hs.decided && !hs.canSendLocked()
	last := hs.last
	if out {
		hs.decided = true
	}
	hs.mu.Unlock()
	if !out {
		return
	}
	s := hs.s
	if last.Err != nil || last.Code == codes.OK {
		last.Code, last.Message = codes.Unavailable, "strait: every hedged attempt failed"
	}
	failDown(&s.down, last.Code, last.Message)
	s.closeDetached()
}

// shadow is a further attempt of s, to call, as attempt n+1.
func (s *stream) shadow(hs *hedging, call Call, hdrs []hpackField, body []byte, n int) *stream {
	h := &stream{srv: s.srv, bal: s.bal, call: call, hdrs: hdrs, method: s.method, cluster: s.cluster,
		start: sinceStart(), deadline: s.deadline, rs: &retryState{hedge: hs}}
	h.down.s, h.up.s = h, h
	h.down.closed = true // nothing a shadow receives reaches the client
	h.up.closed = true   // until a pool takes it
	h.rp.off = true      // its attempts are the hedging's to make
	h.setPreviousAttempts(n)
	h.up.queue = append(h.up.queueBuf[:0], chunk{data: body, end: true, replayed: true})
	return h
}

// upFinished is called as an up leg of the call closes (finishLocked):
// the first attempt's (or the winner's) ends the hedging; a shadow's
// is an attempt that ended.
func (hs *hedging) upFinished(x *stream) {
	if x == hs.s {
		hs.stop()
		return
	}
	hs.shadowDone(x)
}

// shadowDone counts shadow h's attempt ended, unless h won.
func (hs *hedging) shadowDone(h *stream) {
	hs.mu.Lock()
	if hs.winner != h {
		hs.live--
	}
	hs.mu.Unlock()
	hs.poke()
}

// cancelLosers resets every shadow but the winner; their endpoints are
// not blamed.
func (hs *hedging) cancelLosers() {
	hs.mu.Lock()
	losers := slices.Clone(hs.shadows)
	winner := hs.winner
	hs.mu.Unlock()
	for _, h := range losers {
		if h != winner {
			resetLeg(&h.up, http2.ErrCodeCancel)
			h.end(Outcome{Local: true})
		}
	}
}
