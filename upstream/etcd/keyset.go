package etcd

import (
	"log/slog"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/straitproxy/strait/upstream"
)

// keyset folds etcd's keys and watch events into the cluster's set. Keys
// are registrations; two keys with one address count once (Normalize).
// Not safe for concurrent use: one Source goroutine owns it.
type keyset struct {
	eps map[string]upstream.Endpoint
	// bad holds the unparsable value last reported per key, so each bad
	// value is logged and counted once, not on every re-list.
	bad     map[string]string
	log     *slog.Logger
	skipped func()
}

func newKeyset(log *slog.Logger, skipped func()) *keyset {
	return &keyset{eps: map[string]upstream.Endpoint{}, bad: map[string]string{}, log: log, skipped: skipped}
}

// reset replaces the whole state with a listing.
func (k *keyset) reset(kvs []*mvccpb.KeyValue) {
	clear(k.eps)
	seen := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		seen[string(kv.Key)] = true
		k.put(kv.Key, kv.Value)
	}
	for key := range k.bad {
		if !seen[key] {
			delete(k.bad, key)
		}
	}
}

// apply folds watch events in.
func (k *keyset) apply(evs []*clientv3.Event) {
	for _, ev := range evs {
		switch ev.Type {
		case clientv3.EventTypePut:
			k.put(ev.Kv.Key, ev.Kv.Value)
		case clientv3.EventTypeDelete:
			delete(k.eps, string(ev.Kv.Key))
			delete(k.bad, string(ev.Kv.Key))
		}
	}
}

func (k *keyset) put(key, value []byte) {
	ep, err := parseValue(value)
	if err != nil {
		// A key whose value turned bad no longer names its old address.
		delete(k.eps, string(key))
		k.reportBad(string(key), string(value), err)
		return
	}
	delete(k.bad, string(key))
	k.eps[string(key)] = ep
}

func (k *keyset) reportBad(key, value string, err error) {
	if prev, ok := k.bad[key]; ok && prev == value {
		return
	}
	k.bad[key] = value
	k.skipped()
	k.log.Warn("skipping unparsable registration", "key", key, "err", err)
}

// endpoints returns the current set, normalized.
func (k *keyset) endpoints() []upstream.Endpoint {
	out := make([]upstream.Endpoint, 0, len(k.eps))
	for _, ep := range k.eps {
		out = append(out, ep)
	}
	return upstream.Normalize(out)
}
