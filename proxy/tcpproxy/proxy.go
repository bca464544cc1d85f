package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy relays the connections of one or more listeners to a balanced
// cluster. Safe for concurrent use.
type Proxy struct {
	opts    Options
	bal     Balancer
	log     *slog.Logger
	dialer  net.Dialer
	stats   counters
	lastLog atomic.Int64 // unix nanoseconds of the last rate-limited line
	obs     Observer

	// ctx ends in-progress dials when the proxy closes for good.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per connection handler

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	shutting  bool
	closed    bool // every connection is being closed
	conns     map[*conn]struct{}
	drain     drainState
}

// New returns a Proxy that balances with bal. o must have passed Validate.
func New(o Options, bal Balancer, log *slog.Logger) *Proxy {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		opts: o.WithDefaults(), bal: bal, ctx: ctx, cancel: cancel,
		log:       log.With("component", "tcpproxy", "listener", o.Name),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		drain:     newDrainState(),
	}
	p.dialer.Timeout = p.opts.DialTimeout
	p.obs = p.opts.Observer
	if p.obs == nil {
		p.obs = nopObserver{}
	}
	p.stats.endpoints = map[string]*endpointStats{}
	return p
}

// Serve accepts connections on lis until Shutdown or Close, then returns
// ErrClosed; it returns other accept errors that are not transient.
func (p *Proxy) Serve(lis net.Listener) error {
	if !p.track(lis) {
		lis.Close()
		return ErrClosed
	}
	defer p.untrack(lis)
	var backoff time.Duration
	for {
		nc, err := lis.Accept()
		if err != nil {
			if p.stopping() {
				return ErrClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("tcpproxy %s: accept: %w", p.opts.Name, err)
			}
			// Out of descriptors and the like: wait instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		p.admit(nc)
	}
}

// admit starts serving nc unless the connection limit is reached.
func (p *Proxy) admit(nc net.Conn) {
	p.stats.accepted.Add(1)
	n := p.stats.active.Add(1)
	if m := p.opts.MaxConnections; m > 0 && n > int64(m) {
		p.stats.active.Add(-1)
		p.stats.rejected.Add(1)
		nc.Close()
		return
	}
	// Under mu, so that no handler is added once Shutdown waits for them.
	p.mu.Lock()
	if p.shutting {
		p.mu.Unlock()
		p.stats.active.Add(-1)
		nc.Close()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer p.stats.active.Add(-1)
		p.serveConn(nc)
	}()
}

func (p *Proxy) track(lis net.Listener) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutting {
		return false
	}
	p.listeners[lis] = struct{}{}
	return true
}

func (p *Proxy) untrack(lis net.Listener) {
	p.mu.Lock()
	delete(p.listeners, lis)
	p.mu.Unlock()
}

func (p *Proxy) stopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shutting
}

// Shutdown stops accepting, lets open connections finish until ctx ends,
// then closes the rest and waits for their handlers. It returns ctx's
// error when connections had to be cut.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.stopAccepting()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		p.cancel()
		return nil
	case <-ctx.Done():
		p.closeAll()
		<-done
		return fmt.Errorf("tcpproxy %s: shutdown cut open connections: %w", p.opts.Name, ctx.Err())
	}
}

// Close stops accepting and closes every connection at once.
func (p *Proxy) Close() {
	p.stopAccepting()
	p.closeAll()
	p.wg.Wait()
}

func (p *Proxy) stopAccepting() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shutting = true
	for lis := range p.listeners {
		lis.Close()
	}
}

func (p *Proxy) closeAll() {
	p.cancel()
	p.mu.Lock()
	p.closed = true
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.drain.stopTimers()
	p.mu.Unlock()
	for _, c := range conns {
		c.kill(&p.stats.shutClosed)
	}
}
