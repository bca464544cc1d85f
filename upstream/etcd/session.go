package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/straitproxy/strait/upstream"
)

var (
	// errWatchClosed is returned when etcd's client ends a watch by itself.
	errWatchClosed = errors.New("watch closed")
	// errRevisionWentBack means etcd lost data (wiped, restored): list again.
	errRevisionWentBack = errors.New("revision went back")
	// errConnLost means the connection to etcd dropped, see connLost.
	errConnLost = errors.New("connection to etcd lost")
)

// connLost is closed when conn stops being ready (or ctx ends). etcd's
// client resumes a broken watch by itself, from the revision it had
// reached; on an etcd that restarted with less data (wiped, restored),
// that watch waits for revisions that are not the ones it missed. So any
// loss of the connection ends the session, and the next lists again.
// With several etcd members the connection stays ready while one is up,
// and a resumed watch on another member misses nothing.
func connLost(ctx context.Context, conn *grpc.ClientConn) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		if conn.GetState() == connectivity.Ready {
			conn.WaitForStateChange(ctx, connectivity.Ready)
		}
	}()
	return ch
}

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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lctx, lcancel := context.WithTimeout(ctx, r.timeout)
	resp, err := r.cli.Get(lctx, r.prefix, clientv3.WithPrefix())
	lcancel()
	if err != nil {
		return false, fmt.Errorf("etcd list %s: %w", r.prefix, err)
	}
	// Armed before the watch is created: creating it waits for etcd, and
	// a restart in between must not go unnoticed.
	lost := connLost(ctx, r.cli.ActiveConnection())
	prev := r.ks.endpoints()
	r.ks.reset(resp.Kvs)
	r.hold.listed(resp.Header.Revision, prev)
	r.report(false)
	if r.beforeWatch != nil {
		r.beforeWatch()
	}
	return true, r.watch(ctx, resp.Header.Revision+1, lost)
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
func (r *runner) watch(ctx context.Context, rev int64, lost <-chan struct{}) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	// Creating a watch waits for etcd to confirm it, however long etcd is
	// gone; a lost connection must end that wait too.
	go func() {
		select {
		case <-lost:
			cancel()
		case <-wctx.Done():
		}
	}()
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
		case <-lost:
			return fmt.Errorf("etcd watch %s: %w", r.prefix, errConnLost)
		case <-r.hold.expired():
			r.report(true)
		case <-probe.C:
			if err := r.probe(ctx); err != nil {
				return err
			}
		}
	}
}

// probe checks that etcd answers a linearizable read, which needs a leader,
// and that its revision did not go back: etcd's client resumes a broken
// watch by itself, and on an etcd that came back wiped, the resumed watch
// waits for a revision that may never come.
func (r *runner) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	resp, err := r.cli.Get(pctx, r.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("etcd probe %s: %w", r.prefix, err)
	}
	if rev := resp.Header.Revision; rev < r.hold.lastRev {
		return fmt.Errorf("etcd probe %s: %w (from %d to %d)", r.prefix, errRevisionWentBack, r.hold.lastRev, rev)
	}
	r.hold.seen(resp.Header.Revision)
	return nil
}
