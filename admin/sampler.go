package admin

import (
	"context"
	"time"
)

// run samples src on every tick until ctx ends, recording ejections
// from ej (if any) meanwhile. The tick's time is the sample's, so a test
// drives the sampler with its own clock.
func (h *history) run(ctx context.Context, src StatusSource, ej EjectionSource, ticks <-chan time.Time) {
	if ej != nil {
		cancel := ej.SubscribeEjections(h.record)
		defer cancel()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			// Read the source before taking the history's lock: the
			// source takes the pools' locks, under which record runs.
			h.sample(src.Status(), now)
		}
	}
}

// startSampler runs the history's sampler on a ticker until the returned
// stop, which waits for it to end.
func (s *Server) startSampler() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ticker := time.NewTicker(s.history.interval)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.history.run(ctx, s.opts.Status, s.opts.Ejections, ticker.C)
	}()
	return func() {
		cancel()
		<-done
		ticker.Stop()
	}
}
