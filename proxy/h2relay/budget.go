package h2relay

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// Budget bounds the bytes that the relay listeners of a process hold for
// their peers: DATA queued on streams whose peer takes it slower than
// the other side sends it, and writes under way. Windows bound each
// stream and connection; the budget bounds their sum. As its use nears
// the limit the relay sheds load, cheapest first:
//
//   - from 90 % of the limit, listeners stop accepting, new streams are
//     refused with REFUSED_STREAM (clients retry them elsewhere), and
//     connections without streams are sent GOAWAY;
//   - at the limit, the streams holding the most bytes are reset
//     (ENHANCE_YOUR_CALM to the client) until use is under 90 % again.
//
// One Budget is shared by all the Servers of a process (Options.Budget).
// It is safe for concurrent use.
type Budget struct {
	limit, high int64
	used        atomic.Int64

	mu     sync.Mutex
	over   bool          // use reached high and no Server has seen it fall since
	overCh chan struct{} // closed when over is set; replaced when it clears

	paused, refused, goAways, resets atomic.Int64
}

// DefaultBudget is the limit of a Budget a Server makes for itself when
// Options.Budget is nil.
const DefaultBudget = 256 << 20

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: limit, high: limit / 10 * 9, overCh: make(chan struct{})}
}

// BudgetStats is a Budget's use and what it did.
type BudgetStats struct {
	// Used and Limit are bytes.
	Used, Limit int64
	// AcceptPauses counts the times a listener stopped accepting;
	// RefusedStreams, IdleGoAways and StreamResets count the streams
	// refused, idle connections sent GOAWAY and streams reset.
	AcceptPauses, RefusedStreams, IdleGoAways, StreamResets int64
}

// Stats reports the budget's use and actions so far.
func (b *Budget) Stats() BudgetStats {
	return BudgetStats{Used: b.used.Load(), Limit: b.limit, AcceptPauses: b.paused.Load(),
		RefusedStreams: b.refused.Load(), IdleGoAways: b.goAways.Load(), StreamResets: b.resets.Load()}
}

// add counts n bytes more (or fewer) held; crossing the high mark
// wakes every Server's shedder.
func (b *Budget) add(n int64) {
	if u := b.used.Add(n); n > 0 && u >= b.high {
		b.mu.Lock()
		if !b.over {
			b.over = true
			close(b.overCh)
		}
		b.mu.Unlock()
	}
}

// pressed says whether use is at or above the high mark.
func (b *Budget) pressed() bool { return b.used.Load() >= b.high }

// tripped returns a channel closed once use reaches the high mark; it
// re-arms the budget when use has fallen back below it.
func (b *Budget) tripped() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over && !b.pressed() {
		b.over = false
		b.overCh = make(chan struct{})
	}
	return b.overCh
}

// hold counts n bytes more (or fewer) held in l's queue: DATA copied
// from a reader's buffers (keepLast, coalesce) until written or dropped.
func (l *leg) hold(n int) {
	if n != 0 {
		l.s.srv.o.Budget.add(int64(n))
	}
}

// ownedLocked is what l's queue holds in the Budget: its DATA that is
// neither borrowed (never left queued) nor a replay buffer's.
func (l *leg) ownedLocked() int {
	n := 0
	for _, ch := range l.queue {
		if !ch.borrowed && !ch.replayed {
			n += len(ch.data)
		}
	}
	return n
}

// held is what s holds in the Budget, both ways.
func (s *stream) held() int64 {
	var n int
	for _, l := range []*leg{&s.down, &s.up} {
		mu := l.lock()
		n += l.ownedLocked()
		mu.Unlock()
	}
	return int64(n)
}

// shedLoop runs the Server's part of the budget: whenever use is over
// the high mark, it sheds load every shedEvery until it is not.
func (s *Server) shedLoop() {
	defer s.wg.Done()
	b := s.o.Budget
	for {
		select {
		case <-s.quit:
			return
		case <-b.tripped():
		}
		t := time.NewTicker(shedEvery)
		for b.pressed() {
			s.shed()
			select {
			case <-s.quit:
				t.Stop()
				return
			case <-t.C:
			}
		}
		t.Stop()
	}
}

// shedEvery is how often an overloaded Server sheds load.
const shedEvery = 20 * time.Millisecond

// shed sends GOAWAY to connections without streams and, with the
// budget spent, resets the streams holding the most bytes.
func (s *Server) shed() {
	b := s.o.Budget
	s.each(func(d *downConn) {
		d.mu.Lock()
		if d.open == 0 && !d.closing {
			d.gone = true
			b.goAways.Add(1) // counted before the client can see it
			d.goAwayLocked(d.lastID, http2.ErrCodeNo)
		}
		d.mu.Unlock()
	})
	if b.used.Load() < b.limit {
		return
	}
	type heavy struct {
		d    *downConn
		l    *leg
		held int64
	}
	var hs []heavy
	s.each(func(d *downConn) {
		d.mu.Lock()
		for _, l := range d.streams {
			hs = append(hs, heavy{d: d, l: l})
		}
		d.mu.Unlock()
	})
	// Weighed outside the client connection's lock: a stream's up leg
	// is guarded by another, never taken while holding it.
	for i := range hs {
		hs[i].held = hs[i].l.s.held()
	}
	slices.SortFunc(hs, func(x, y heavy) int { return cmp.Compare(y.held, x.held) })
	over := b.used.Load() - b.high
	for _, h := range hs {
		if over <= 0 || h.held == 0 {
			break
		}
		over -= h.held
		b.resets.Add(1) // counted before the client can see it
		h.d.shedStream(h.l)
	}
}

// shedStream resets a client's stream for the budget, and its upstream
// half.
func (d *downConn) shedStream(l *leg) {
	d.mu.Lock()
	if l.closed {
		d.mu.Unlock()
		return
	}
	l.finishLocked()
	d.writeResetLocked(l.id, http2.ErrCodeEnhanceYourCalm)
	d.kick()
	d.mu.Unlock()
	resetLeg(&l.s.up, http2.ErrCodeCancel)
	l.s.end(Outcome{Local: true})
}
