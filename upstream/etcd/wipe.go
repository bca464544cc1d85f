package etcd

import (
	"fmt"
	"time"

	"github.com/straitproxy/strait/upstream"
)

// DefaultWipeGrace is how long a Source keeps the previous set after etcd
// comes back with older data, unless WithWipeGrace says otherwise.
const DefaultWipeGrace = 15 * time.Second

// wipeHold protects the set from an etcd that came back wiped or restored
// from a backup: its revision goes back, and a listing then shows only the
// instances that have registered again so far, maybe none. Applying that
// would empty the cluster while the instances are fine. So for a grace
// period the Source reports an error instead (the Guard keeps the previous
// set), until every previous address is back or the grace period ends.
// Owned by one Run goroutine.
type wipeHold struct {
	grace   time.Duration
	lastRev int64
	before  map[string]bool // addresses before the wipe; nil when not holding
	from    int64
	to      int64
	timer   *time.Timer
}

// seen records a revision etcd reported outside a listing.
func (w *wipeHold) seen(rev int64) { w.lastRev = max(w.lastRev, rev) }

// listed records a listing's revision, and starts holding prev if etcd's
// revision went back.
func (w *wipeHold) listed(rev int64, prev []upstream.Endpoint) {
	if rev < w.lastRev && w.before == nil && w.grace > 0 {
		w.before = make(map[string]bool, len(prev))
		for _, e := range prev {
			w.before[e.Addr] = true
		}
		w.from, w.to = w.lastRev, rev
		w.timer = time.NewTimer(w.grace)
	}
	w.lastRev = rev
}

// check returns the error to report instead of eps while holding, or nil
// once eps may be applied.
func (w *wipeHold) check(eps []upstream.Endpoint, expired bool) error {
	if w.before == nil {
		return nil
	}
	if !expired && !w.covers(eps) {
		return fmt.Errorf("etcd revision went back from %d to %d (data wiped or restored): keeping the previous set up to %v while instances register again", w.from, w.to, w.grace)
	}
	w.stop()
	return nil
}

func (w *wipeHold) covers(eps []upstream.Endpoint) bool {
	n := 0
	for _, e := range eps {
		if w.before[e.Addr] {
			n++
		}
	}
	return n == len(w.before)
}

// expired fires when the grace period ends; nil when not holding.
func (w *wipeHold) expired() <-chan time.Time {
	if w.timer == nil {
		return nil
	}
	return w.timer.C
}

func (w *wipeHold) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.before, w.timer = nil, nil
}
