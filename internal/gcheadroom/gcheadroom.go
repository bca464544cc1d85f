// Package gcheadroom bounds the garbage collector's headroom: how much the
// heap may grow past what was live before the next collection.
//
// strait runs with GOGC=400 (cmd/strait), which lets the heap grow to five
// times what the last collection found live. With a few MB live that costs
// little memory and saves CPU. But a peer can raise the live heap for a
// moment (clients that stop reading while their replies are buffered, a
// burst of large messages), and GOGC 400 then lets four times as much
// garbage pile up before the next collection: 29 MB held for non-reading
// clients once set a 144 MB heap goal. That headroom is memory a peer makes
// strait hold, so it is bounded too.
//
// After every collection Start's governor sets Go's soft memory limit to
// the runtime's overhead (stacks, metadata) plus what is live plus a
// headroom of min(4 × live, bound), never less than live itself: GOGC
// 400 while the heap is small, at most bound above it, and never tighter
// than GOGC 100, so a large live set does not make the collector run
// without pause. The limit only ever lowers the goal GOGC sets.
package gcheadroom

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Limit is the soft memory limit for live bytes of heap, overhead bytes
// of runtime memory outside the heap, and a headroom of at most bound
// (but at least live).
func Limit(live, overhead, bound int64) int64 {
	headroom := max(live, min(4*live, bound))
	return overhead + live + headroom
}

// governor re-sets the memory limit after each collection. The runtime's
// cleanup goroutine runs collected; mu orders it with stop, so that no
// limit is set after stop restored the old one.
type governor struct {
	bound int64

	mu      sync.Mutex
	stopped bool
	samples []metrics.Sample
}

// Start bounds the headroom to bound bytes from now until stop is called,
// which restores the memory limit in force before. It changes the memory
// limit of the whole process: call it once.
func Start(bound int64) (stop func()) {
	g := &governor{bound: bound}
	for _, name := range []string{
		"/gc/heap/live:bytes",
		"/memory/classes/total:bytes",
		"/memory/classes/heap/released:bytes",
		"/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes",
	} {
		g.samples = append(g.samples, metrics.Sample{Name: name})
	}
	before := debug.SetMemoryLimit(-1)
	g.arm()
	return func() {
		g.mu.Lock()
		g.stopped = true
		debug.SetMemoryLimit(before)
		g.mu.Unlock()
	}
}

// sentinel is allocated to be collected: its cleanup tells the governor
// a collection happened. It holds a pointer so that it is not a tiny
// allocation, whose cleanups may be delayed by its neighbours.
type sentinel struct {
	_ *byte
	_ [2]uintptr
}

func (g *governor) arm() {
	runtime.AddCleanup(new(sentinel), (*governor).collected, g)
}

// collected runs after a collection found the sentinel unreachable.
func (g *governor) collected() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	metrics.Read(g.samples)
	v := func(i int) int64 {
		if g.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(min(g.samples[i].Value.Uint64(), math.MaxInt64))
	}
	live := v(0)
	heap := v(3) + v(4) + v(5)
	overhead := max(0, v(1)-v(2)-heap)
	if live > 0 {
		debug.SetMemoryLimit(Limit(live, overhead, g.bound))
	}
	g.arm()
}
