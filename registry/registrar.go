package registry

import (
	"context"
	"errors"
	"fmt"
	"github.com/straitproxy/strait/internal/ctxwait"
	"log/slog"
	"math"
	"sync"

	"github.com/cenkalti/backoff/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Registrar keeps one instance registered until Close. Safe for
// concurrent use.
type Registrar struct {
	cli    *clientv3.Client
	key    string
	value  string
	opts   options
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{}

	mu    sync.Mutex
	lease clientv3.LeaseID
}

// Register starts keeping addr registered under key/ with cli, until ctx is
// done or Close is called, both of which revoke the lease. It returns at
// once, without waiting for etcd (see Ready); it fails only on a bad key
// or address. The caller keeps cli open until Close returns.
func Register(ctx context.Context, cli *clientv3.Client, key, addr string, opts ...Option) (*Registrar, error) {
	if cli == nil {
		return nil, errors.New("register: no etcd client")
	}
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	if err := CheckAddr(addr); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	v, err := value(addr, o.metadata)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Registrar{
		cli: cli, key: key, value: v, opts: o,
		log:    o.log.With("key", key, "addr", addr),
		cancel: cancel,
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
	}
	go r.run(ctx)
	return r, nil
}

// Ready is closed once the instance has been registered the first time.
func (r *Registrar) Ready() <-chan struct{} { return r.ready }

// Key returns the instance's current key (key/<lease ID>), or "" while it
// is not registered.
func (r *Registrar) Key() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lease == clientv3.NoLease {
		return ""
	}
	return fmt.Sprintf("%s/%d", r.key, r.lease)
}

// Close revokes the lease, so the instance disappears at once, and stops.
func (r *Registrar) Close() {
	r.cancel()
	<-r.done
}

func (r *Registrar) run(ctx context.Context) {
	defer close(r.done)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = r.opts.minBackoff, r.opts.maxBackoff
	for {
		lease, rev, err := r.register(ctx)
		if err == nil {
			b.Reset()
			r.setLease(lease)
			r.hold(ctx, lease, rev)
			r.setLease(clientv3.NoLease)
			r.revoke(ctx, lease)
		} else if ctx.Err() == nil {
			r.log.Warn("cannot register; will retry", "err", err)
		}
		if !ctxwait.Sleep(ctx, b.NextBackOff()) {
			return
		}
		r.log.Info("registering again")
	}
}

// register grants a lease and puts the key under it.
func (r *Registrar) register(ctx context.Context) (clientv3.LeaseID, int64, error) {
	tctx, cancel := context.WithTimeout(ctx, r.opts.timeout)
	defer cancel()
	ttl := int64(math.Ceil(r.opts.ttl.Seconds()))
	l, err := r.cli.Grant(tctx, ttl)
	if err != nil {
		return 0, 0, fmt.Errorf("etcd grant: %w", err)
	}
	key := fmt.Sprintf("%s/%d", r.key, l.ID)
	resp, err := r.cli.Put(tctx, key, r.value, clientv3.WithLease(l.ID))
	if err != nil {
		r.revoke(ctx, l.ID)
		return 0, 0, fmt.Errorf("etcd put %s: %w", key, err)
	}
	r.log.Info("registered", "lease", int64(l.ID), "ttl", l.TTL)
	return l.ID, resp.Header.Revision, nil
}

// revoke drops a lease that is no longer used, bounded by the timeout, so
// a lease lost to a partition does not leave a second key behind. It runs
// on Close too, so it does not use ctx's cancellation.
func (r *Registrar) revoke(ctx context.Context, lease clientv3.LeaseID) {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.timeout)
	defer cancel()
	if _, err := r.cli.Revoke(tctx, lease); err != nil {
		r.log.Debug("revoke", "lease", int64(lease), "err", err)
		return
	}
	r.log.Info("deregistered", "lease", int64(lease))
}

func (r *Registrar) setLease(l clientv3.LeaseID) {
	r.mu.Lock()
	r.lease = l
	r.mu.Unlock()
	if l != clientv3.NoLease {
		select {
		case <-r.ready:
		default:
			close(r.ready)
		}
	}
}
