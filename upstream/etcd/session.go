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

// session lists the prefix, emits the set, then watches until something
// fails. synced says whether the listing succeeded.
func (s *Source) session(ctx context.Context, cli *clientv3.Client, ks *keyset, emit func(upstream.Update)) (synced bool, err error) {
	lctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := cli.Get(lctx, s.prefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return false, fmt.Errorf("etcd list %s: %w", s.prefix, err)
	}
	ks.reset(resp.Kvs)
	emit(upstream.Update{Endpoints: ks.endpoints()})
	if s.beforeWatch != nil {
		s.beforeWatch()
	}
	return true, s.watch(ctx, cli, ks, resp.Header.Revision+1, emit)
}

// watch applies changes from rev on, and returns when the watch fails or
// a probe finds etcd unreachable.
func (s *Source) watch(ctx context.Context, cli *clientv3.Client, ks *keyset, rev int64, emit func(upstream.Update)) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := cli.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
	probe := time.NewTicker(s.probeEvery)
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case wr, ok := <-wch:
			if !ok {
				return fmt.Errorf("etcd watch %s: %w", s.prefix, errWatchClosed)
			}
			if err := wr.Err(); err != nil {
				return fmt.Errorf("etcd watch %s: %w", s.prefix, err)
			}
			if len(wr.Events) > 0 {
				ks.apply(wr.Events)
				emit(upstream.Update{Endpoints: ks.endpoints()})
			}
		case <-probe.C:
			if err := s.probe(ctx, cli); err != nil {
				return err
			}
		}
	}
}

// probe checks that etcd answers a linearizable read, which needs a leader.
func (s *Source) probe(ctx context.Context, cli *clientv3.Client) error {
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := cli.Get(pctx, s.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("etcd probe %s: %w", s.prefix, err)
	}
	return nil
}
