package attack

import (
	"context"
	"crypto/tls"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	pb "google.golang.org/grpc/examples/helloworld/helloworld"
)

// LoadOptions shape a legitimate load. Zero fields take the defaults
// noted.
type LoadOptions struct {
	// Callers is how many clients call at once, each on its own
	// connection (10).
	Callers int
	// Pace is the least time between two calls of one caller (0: none,
	// each caller calls again as soon as its call returns).
	Pace time.Duration
	// CallTimeout bounds each call (3 s); a call over it fails.
	CallTimeout time.Duration
	// MaxTime and MaxCalls bound the whole load (10 min, 2,000,000).
	MaxTime  time.Duration
	MaxCalls int64
	// TLS dials the target over TLS (certificates not verified).
	TLS bool
}

// Load is a legitimate load of SayHello calls running beside an attack.
type Load struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	stopOnce   sync.Once
	stats      LoadStats
	conns      []*grpc.ClientConn

	mu        sync.Mutex
	latencies []time.Duration // of the calls that succeeded
}

// LoadStats is what a load saw.
type LoadStats struct {
	// OK and Failed count finished calls; calls cut short by Stop count
	// as neither.
	OK, Failed int64
	// P50 and P99 are latencies of the calls that succeeded.
	P50, P99 time.Duration
	// FirstErr is the first failure, or nil.
	FirstErr error
}

// SuccessRate is OK / (OK + Failed), 1 without calls.
func (s LoadStats) SuccessRate() float64 {
	if s.OK+s.Failed == 0 {
		return 1
	}
	return float64(s.OK) / float64(s.OK+s.Failed)
}

// StartLoad calls SayHello on addr until Stop or its bounds.
func StartLoad(addr string, o LoadOptions) (*Load, error) {
	if o.Callers <= 0 {
		o.Callers = 10
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 3 * time.Second
	}
	if o.MaxTime <= 0 {
		o.MaxTime = 10 * time.Minute
	}
	if o.MaxCalls <= 0 {
		o.MaxCalls = 2_000_000
	}
	creds := insecure.NewCredentials()
	if o.TLS {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.MaxTime)
	l := &Load{cancel: cancel}
	for range o.Callers {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			l.Stop()
			return nil, err
		}
		l.conns = append(l.conns, cc)
	}
	var budget atomic.Int64
	for _, cc := range l.conns {
		l.wg.Go(func() { l.call(ctx, pb.NewGreeterClient(cc), o, &budget) })
	}
	return l, nil
}

func (l *Load) call(ctx context.Context, client pb.GreeterClient, o LoadOptions, budget *atomic.Int64) {
	var tick <-chan time.Time
	if o.Pace > 0 {
		t := time.NewTicker(o.Pace)
		defer t.Stop()
		tick = t.C
	}
	var mine []time.Duration
	defer func() {
		l.mu.Lock()
		l.latencies = append(l.latencies, mine...)
		l.mu.Unlock()
	}()
	for ctx.Err() == nil && budget.Add(1) <= o.MaxCalls {
		callCtx, done := context.WithTimeout(ctx, o.CallTimeout)
		start := time.Now()
		_, err := client.SayHello(callCtx, &pb.HelloRequest{Name: "legitimate"})
		took := time.Since(start)
		done()
		switch {
		case err == nil:
			l.ok.Add(1)
			mine = append(mine, took)
		case ctx.Err() == nil:
			l.failed.Add(1)
			l.firstErr.CompareAndSwap(nil, err)
		}
		if tick != nil {
			select {
			case <-ctx.Done():
			case <-tick:
			}
		}
	}
}

// OK is how many calls have succeeded so far.
func (l *Load) OK() int64 { return l.ok.Load() }

// Stop ends the load, closes its connections and returns what it saw.
// Calling it again returns the same.
func (l *Load) Stop() LoadStats {
	l.stopOnce.Do(l.stop)
	return l.stats
}

func (l *Load) stop() {
	l.cancel()
	l.wg.Wait()
	for _, cc := range l.conns {
		cc.Close()
	}
	s := LoadStats{OK: l.ok.Load(), Failed: l.failed.Load()}
	if err, ok := l.firstErr.Load().(error); ok {
		s.FirstErr = err
	}
	l.mu.Lock()
	lat := l.latencies
	l.mu.Unlock()
	if len(lat) > 0 {
		slices.Sort(lat)
		s.P50 = lat[len(lat)*50/100]
		s.P99 = lat[len(lat)*99/100]
	}
	l.stats = s
}
