// Package procs sizes GOMAXPROCS to the load.
//
// Go's scheduler spends much of an I/O-bound proxy's CPU keeping idle Ps
// ready: every goroutine woken while a P is idle wakes a thread (futex),
// which spins looking for work and sleeps again, and the system monitor
// polls every 20 µs while any P runs. Measured on 2 cores with the relay
// at a third of a core (docs/design.md, Performance decisions), one P
// cost 23 % less CPU per call than two at the same throughput. A fixed single P would cap a busy
// proxy at one core, so the count follows the CPU the process uses: one
// more P when the Ps in use are busy, one fewer when the load would fit
// in fewer with room to spare.
package procs

import (
	"context"
	"syscall"
	"time"
)

// Options bound and pace the adjustment.
type Options struct {
	// Max is the most Ps; at least 1.
	Max int
	// Interval is the time between samples of the CPU used.
	Interval time.Duration
	// Up adds a P when the process used more than Up × Ps cores over a
	// sample.
	Up float64
	// Down removes a P when the process used less than Down × (Ps - 1)
	// cores over DownAfter samples in a row: shrinking is slower than
	// growing, so a dip in load does not starve the next burst.
	Down      float64
	DownAfter int
}

// Defaults are the options strait runs with, Max aside.
var Defaults = Options{Interval: 500 * time.Millisecond, Up: 0.75, Down: 0.5, DownAfter: 4}

// Next is the P count after a sample in which the process used cores
// (CPU seconds per second); low counts the samples in a row that asked
// for fewer Ps and is updated.
func (o Options) Next(ps int, cores float64, low *int) int {
	if cores > o.Up*float64(ps) && ps < o.Max {
		*low = 0
		return ps + 1
	}
	if ps > 1 && cores < o.Down*float64(ps-1) {
		if *low++; *low >= o.DownAfter {
			*low = 0
			return ps - 1
		}
		return ps
	}
	*low = 0
	return ps
}

// Run samples the CPU the process used (cpu: total so far) every
// Interval and sets the P count with set, until ctx ends. It starts from
// Max.
func Run(ctx context.Context, o Options, cpu func() time.Duration, set func(int)) {
	ps, low := o.Max, 0
	set(ps)
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	last, lastAt := cpu(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			used := cpu()
			cores := float64(used-last) / float64(now.Sub(lastAt))
			last, lastAt = used, now
			if n := o.Next(ps, cores, &low); n != ps {
				ps = n
				set(ps)
			}
		}
	}
}

// ProcessCPU is the user and system CPU time the process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
