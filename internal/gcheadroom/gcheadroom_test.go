package gcheadroom

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ live, overhead, bound, want int64 }{
		{4 * mib, 3 * mib, 32 * mib, 3*mib + 4*mib + 16*mib},      // small heap: GOGC 400's headroom
		{29 * mib, 3 * mib, 32 * mib, 3*mib + 29*mib + 32*mib},    // capped at the bound
		{100 * mib, 3 * mib, 32 * mib, 3*mib + 100*mib + 100*mib}, // never tighter than GOGC 100
	} {
		if got := Limit(c.live, c.overhead, c.bound); got != c.want {
			t.Errorf("Limit(%d, %d, %d) = %d, want %d", c.live, c.overhead, c.bound, got, c.want)
		}
	}
}

// keep holds the test's live set where the compiler cannot drop it.
var keep [][]byte

// After a collection with 64 MiB live and a 4 MiB bound, the memory
// limit is what is live plus as much again (the GOGC 100 floor), far
// under GOGC 400's five times; stop restores the limit.
func TestGovernorSetsTheLimitAfterACollection(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	stop := Start(4 << 20)
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	defer func() { keep = nil }()
	const live = 64 << 20
	deadline := time.Now().Add(30 * time.Second)
	var limit int64
	for {
		runtime.GC()
		if limit = debug.SetMemoryLimit(-1); limit >= 2*live && limit < 3*live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("memory limit %d after collections with %d live; want about %d", limit, live, 2*live)
		}
		runtime.Gosched()
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("after stop the limit is %d, want %d as before", got, before)
	}
}
