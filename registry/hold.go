package registry

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// hold keeps the lease alive and returns when it is lost (expired, revoked
// by someone else, gone with etcd's data), when the key is deleted, or
// when ctx is done.
func (r *Registrar) hold(ctx context.Context, lease clientv3.LeaseID, rev int64) {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ka, err := r.cli.KeepAlive(hctx, lease)
	if err != nil {
		r.log.Warn("keep-alive failed", "lease", int64(lease), "err", err)
		return
	}
	key := fmt.Sprintf("%s/%d", r.key, lease)
	wch := r.cli.Watch(hctx, key, clientv3.WithRev(rev+1), clientv3.WithFilterPut())
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ka:
			if !ok {
				r.log.Warn("lease lost", "lease", int64(lease))
				return
			}
		case wr, ok := <-wch:
			if !ok || wr.Canceled {
				// The watch only guards against deletion; without it the
				// lease alone still keeps the registration.
				wch = nil
				continue
			}
			if len(wr.Events) > 0 {
				r.log.Warn("key deleted", "key", key)
				return
			}
		}
	}
}
