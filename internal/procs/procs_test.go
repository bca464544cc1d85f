package procs

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNextGrowsAtOnceAndShrinksSlowly(t *testing.T) {
	o := Defaults
	o.Max = 4
	low := 0
	steps := []struct {
		ps    int
		cores float64
		want  int
	}{
		{1, 0.8, 2},  // one busy P: add one
		{2, 1.6, 3},  // still busy
		{4, 3.9, 4},  // busy, but at Max
		{3, 1.2, 3},  // fits in 2 only without room: keep
		{3, 0.9, 3},  // fits in 2 with room: 1st low sample
		{3, 0.9, 3},  // 2nd
		{3, 0.9, 3},  // 3rd
		{3, 0.9, 2},  // 4th in a row: remove one
		{2, 0.4, 2},  // low again: the count starts over
		{2, 0.6, 2},  // a normal sample resets it
		{2, 0.4, 2},  // so this is the 1st again
		{1, 0.01, 1}, // never below one
	}
	for i, s := range steps {
		if got := o.Next(s.ps, s.cores, &low); got != s.want {
			t.Fatalf("step %d: Next(%d, %.2f) = %d, want %d", i, s.ps, s.cores, got, s.want)
		}
	}
}

// Run follows a load that falls to nothing and comes back, on the real
// clock with a fast interval: Ps fall one by one to 1, then grow.
func TestRunFollowsTheLoad(t *testing.T) {
	var rate atomic.Uint64 // cores the fake process uses, as float64 bits
	rate.Store(math.Float64bits(0))
	start := time.Now()
	var used atomic.Int64
	last := start
	cpu := func() time.Duration {
		now := time.Now()
		used.Add(int64(float64(now.Sub(last)) * math.Float64frombits(rate.Load())))
		last = now
		return time.Duration(used.Load())
	}
	sets := make(chan int, 100)
	o := Options{Max: 3, Interval: 5 * time.Millisecond, Up: 0.75, Down: 0.5, DownAfter: 2}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, o, cpu, func(n int) { sets <- n })
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	expect := func(want int) {
		t.Helper()
		select {
		case got := <-sets:
			if got != want {
				t.Fatalf("set %d Ps, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change to %d Ps within 5s", want)
		}
	}
	expect(3) // starts at Max
	expect(2)
	expect(1)
	rate.Store(math.Float64bits(2.5))
	expect(2)
	expect(3)
}
