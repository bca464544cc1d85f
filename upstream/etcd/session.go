package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/straitproxy/strait/upstream"
)

// errWatchClosed is returned when etcd's client ends a watch by itself.
var errWatchClosed = errors.New("watch closed")

// runner is the state of one Run: the client, the folded keys and the
// wipe protection, which outlive each list-and-watch session.
type runner struct {
	*Source
	cli  *clientv3.Client
	ks   *keyset
	hold *wipeHold
	emit func(upstream.Update)
}

// session lists the prefix, reports the set, then watches until something
// fails. synced says whether the listing succeeded.
func (r *runner) session(ctx context.Context) (synced bool, err error) {
	lctx, cancel := context.WithTimeout(ctx, r.timeout)
	resp, err := r.cli.Get(lctx, r.prefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return false, fmt.Errorf("etcd list %s: %w", r.prefix, err)
	}
	prev := r.ks.endpoints()
	r.ks.reset(resp.Kvs)
	r.hold.listed(resp.Header.Revision, prev)
	r.report(false)
	if r.beforeWatch != nil {
		r.beforeWatch()
	}
	return true, r.watch(ctx, resp.Header.Revision+1)
}

// report emits the current set, or while a wipe is held, an error.
func (r *runner) report(expired bool) {
	eps := r.ks.endpoints()
	if err := r.hold.check(eps, expired); err != nil {
		r.log.Warn("holding the previous set", "err", err, "registered_again", len(eps))
		r.emit(upstream.Update{Err: err})
		return
	}
	r.emit(upstream.Update{Endpoints: eps})
}

// watch applies changes from rev on, and returns when the watch fails or
// a probe finds etcd unreachable.
func (r *runner) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := r.cli.Watch(wctx, r.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
	probe := time.NewTicker(r.probeEvery)
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case wr, ok := <-wch:
			if !ok {
				return fmt.Errorf("etcd watch %s: %w", r.prefix, errWatchClosed)
			}
			if err := wr.Err(); err != nil {
				return fmt.Errorf("etcd watch %s: %w", r.prefix, err)
			}
			r.hold.seen(wr.Header.Revision)
			if len(wr.Events) > 0 {
				r.ks.apply(wr.Events)
				r.report(false)
			}
		case <-r.hold.expired():
			r.report(true)
		case <-probe.C:
			if err := r.probe(ctx); err != nil {
				return err
			}
		}
	}
}

// probe checks that etcd answers a linearizable read, which needs a leader.
func (r *runner) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	resp, err := r.cli.Get(pctx, r.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("etcd probe %s: %w", r.prefix, err)
	}
	r.hold.seen(resp.Header.Revision)
	return nil
}
