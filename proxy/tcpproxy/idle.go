package tcpproxy

import (
	"sync"
	"time"
)

// windowsPerTimeout splits the idle timeout into windows: a connection is
// closed after this many silent windows in a row, so within 1.25× of the
// timeout after its last byte.
const windowsPerTimeout = 4

// idleWindows judges idleness without counting bytes as they pass, which
// would defeat splice. Both directions set their read deadline to the same
// window boundaries; when a deadline fires, io.Copy returns whatever it
// moved in the window, and the direction reports whether that was
// anything. The connection is idle when both directions reported the same
// run of silent windows. A direction whose source ended stops reporting
// and counts as silent. Safe for concurrent use; a nil *idleWindows is
// "no idle timeout".
type idleWindows struct {
	start  time.Time
	window time.Duration

	mu   sync.Mutex
	seen [2]int // windows reported per direction
	run  [2]int // silent windows in a row at the end of seen
	done [2]bool
}

func newIdleWindows(timeout time.Duration, start time.Time) *idleWindows {
	return &idleWindows{start: start, window: max(timeout/windowsPerTimeout, time.Millisecond)}
}

// next is the first window boundary after both prev and the present.
func (w *idleWindows) next(prev time.Time) time.Time {
	after := max(prev.Sub(w.start), time.Since(w.start))
	k := after/w.window + 1
	return w.start.Add(k * w.window)
}

// report records one window of direction dir and says whether the
// connection has now been silent both ways for the whole timeout.
func (w *idleWindows) report(dir int, moved bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen[dir]++
	w.run[dir]++
	if moved {
		w.run[dir] = 0
	}
	if w.run[dir] < windowsPerTimeout {
		return false
	}
	o := 1 - dir
	if w.done[o] {
		return true
	}
	// The other direction must have reported the same windows, silent.
	ahead := w.seen[o] - w.seen[dir]
	return ahead >= 0 && w.run[o]-ahead >= windowsPerTimeout
}

// finish records that direction dir's copy ended.
func (w *idleWindows) finish(dir int) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.done[dir] = true
	w.mu.Unlock()
}
