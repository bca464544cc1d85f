// Package registry registers a service instance in etcd in go-zero's
// layout — `<key>/<lease ID in decimal>` = `host:port` under a lease — keeps
// the lease alive, registers again when the lease is lost, and revokes it
// on Close so callers move away at once.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DefaultTTL is the lease TTL when WithTTL is not given.
const DefaultTTL = 10 * time.Second

// Option tunes a registration.
type Option func(*options)

type options struct {
	ttl        time.Duration
	timeout    time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	metadata   map[string]string
	log        *slog.Logger
}

func defaults() options {
	return options{
		ttl:        DefaultTTL,
		timeout:    3 * time.Second,
		minBackoff: 100 * time.Millisecond,
		maxBackoff: 5 * time.Second,
		log:        slog.Default(),
	}
}

// WithTTL sets the lease TTL (rounded up to whole seconds; default 10s).
// A crashed instance disappears at most this long after its last renewal.
func WithTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

// WithTimeout bounds each request to etcd (default 3s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithBackoff sets the bounds of the jittered back-off between failed
// attempts to register (default 100ms to 5s).
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = min, max }
}

// WithMetadata registers a JSON value {"addr": addr, ...md} instead of the
// plain address. go-zero's own resolver reads only plain addresses.
func WithMetadata(md map[string]string) Option { return func(o *options) { o.metadata = md } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// CheckAddr reports why addr cannot be registered: it must be host:port
// with a host that callers can reach, so not empty and not 0.0.0.0 or ::.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q is not host:port", addr)
	}
	if port == "" {
		return fmt.Errorf("address %q has no port", addr)
	}
	if host == "" {
		return fmt.Errorf("address %q has no host: callers cannot reach it; give the reachable address", addr)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return fmt.Errorf("address %q is a listen-on-all address: callers cannot reach it; give the reachable address", addr)
	}
	return nil
}

func checkKey(key string) error {
	if strings.TrimSpace(key) == "" {
		return errors.New("key is empty")
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("key %q must not end with '/'", key)
	}
	return nil
}

// value is what goes under the instance's key.
func value(addr string, md map[string]string) (string, error) {
	if len(md) == 0 {
		return addr, nil
	}
	fields := make(map[string]string, len(md)+1)
	for k, v := range md {
		fields[k] = v
	}
	fields["addr"] = addr
	b, err := json.Marshal(fields)
	if err != nil {
		return "", fmt.Errorf("registration value: %w", err)
	}
	return string(b), nil
}
