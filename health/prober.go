package health

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Checker checks one address. Each address's probe loop builds its own
// and closes it when the address goes away.
type Checker interface {
	Check(ctx context.Context) error
	Close() error
}

// NewChecker builds the Checker of one address.
type NewChecker func(addr string) (Checker, error)

// Prober runs active health checks for the data paths that grpc-go's own
// client-side health checking does not cover (the L4 proxy): one loop per
// address checks at once and then every interval, each check bounded by
// timeout, and reports each change of verdict (and the first) through
// report, whose signature fits lb.Pool.SetServing. Safe for concurrent
// use.
type Prober struct {
	newChecker NewChecker
	interval   time.Duration
	timeout    time.Duration
	report     func(addr string, serving bool)
	log        *slog.Logger

	mu     sync.Mutex
	loops  map[string]context.CancelFunc
	closed bool
	wg     sync.WaitGroup
}

// NewProber returns a Prober with no addresses; Update gives it some.
func NewProber(nc NewChecker, interval, timeout time.Duration, report func(addr string, serving bool)) *Prober {
	return &Prober{newChecker: nc, interval: interval, timeout: timeout, report: report,
		log: slog.Default().With("component", "health"), loops: make(map[string]context.CancelFunc)}
}

// Update starts checking new addresses and stops checking removed ones.
func (p *Prober) Update(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	want := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		want[a] = true
		if _, ok := p.loops[a]; !ok {
			ctx, cancel := context.WithCancel(context.Background())
			p.loops[a] = cancel
			p.wg.Go(func() { p.run(ctx, a) })
		}
	}
	for a, cancel := range p.loops {
		if !want[a] {
			cancel()
			delete(p.loops, a)
		}
	}
}

// Close stops every loop and waits for them.
func (p *Prober) Close() {
	p.mu.Lock()
	p.closed = true
	for a, cancel := range p.loops {
		cancel()
		delete(p.loops, a)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Prober) run(ctx context.Context, addr string) {
	c, err := p.newChecker(addr)
	if err != nil {
		p.log.Error("health check not started", "addr", addr, "err", err)
		return
	}
	defer c.Close()
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	first, last := true, false
	for {
		serving := p.check(ctx, c, addr)
		if ctx.Err() != nil {
			return
		}
		if first || serving != last {
			p.report(addr, serving)
			first, last = false, serving
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *Prober) check(ctx context.Context, c Checker, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if err := c.Check(ctx); err != nil {
		p.log.Debug("health check failed", "addr", addr, "err", err)
		return false
	}
	return true
}
