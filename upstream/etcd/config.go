// Package etcd discovers a cluster's endpoints in etcd, in go-zero's key
// layout: every instance registers `<key>/<lease ID>` = `host:port` under a
// lease. A JSON value {"addr": "host:port", ...} is accepted too; its other
// fields become the endpoint's metadata.
package etcd

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
)

// DefaultDialTimeout bounds each request to etcd when Config.DialTimeout is
// zero, so an unreachable etcd is reported (and start-up goes on) quickly.
const DefaultDialTimeout = 3 * time.Second

// Config is the etcd part of a cluster's configuration, in the shape go-zero
// users know (Hosts + Key).
type Config struct {
	// Hosts are the etcd client endpoints, host:port or http(s)://host:port.
	Hosts []string `yaml:"hosts"`
	// Key is the registration prefix: instances live under Key + "/".
	Key string `yaml:"key"`
	// User and Pass authenticate to etcd when set.
	User string `yaml:"user,omitempty"`
	Pass string `yaml:"pass,omitempty"`
	// TLS enables TLS to etcd when set.
	TLS *TLS `yaml:"tls,omitempty"`
	// DialTimeout bounds every request to etcd (default 3s).
	DialTimeout time.Duration `yaml:"dial_timeout,omitempty"`
}

// TLS names the PEM files used to reach etcd over TLS.
type TLS struct {
	// CA verifies etcd's certificate; the system pool when empty.
	CA string `yaml:"ca,omitempty"`
	// Cert and Key are the client certificate, for etcd's client auth.
	Cert string `yaml:"cert,omitempty"`
	Key  string `yaml:"key,omitempty"`
}

// FieldError is a Config error about one field, named as in the YAML
// (e.g. "hosts[1]"), so an enclosing configuration can prefix its path.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid field as a *FieldError.
func (c Config) Validate() error {
	if len(c.Hosts) == 0 {
		return fieldErr("hosts", "at least one etcd host is required")
	}
	for i, h := range c.Hosts {
		if err := validHost(h); err != nil {
			return fieldErr(fmt.Sprintf("hosts[%d]", i), "%s", err)
		}
	}
	if strings.TrimSpace(c.Key) == "" {
		return fieldErr("key", "is required (the registration prefix, e.g. user.rpc)")
	}
	if strings.HasSuffix(c.Key, "/") {
		return fieldErr("key", "%q must not end with '/' (instances live under key/)", c.Key)
	}
	if (c.User == "") != (c.Pass == "") {
		return fieldErr("pass", "user and pass go together")
	}
	if c.TLS != nil && (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return fieldErr("tls", "cert and key go together")
	}
	if c.DialTimeout < 0 {
		return fieldErr("dial_timeout", "%v is negative", c.DialTimeout)
	}
	return nil
}

func validHost(h string) error {
	hostport := h
	if strings.Contains(h, "://") {
		u, err := url.Parse(h)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("%q is not host:port or http(s)://host:port", h)
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("%q is not host:port", h)
	}
	return nil
}

// timeout is the bound on each request to etcd.
func (c Config) timeout() time.Duration {
	if c.DialTimeout > 0 {
		return c.DialTimeout
	}
	return DefaultDialTimeout
}

// ClientConfig returns the etcd client configuration for c, loading the TLS
// files. It validates c first.
func (c Config) ClientConfig() (clientv3.Config, error) {
	if err := c.Validate(); err != nil {
		return clientv3.Config{}, err
	}
	cfg := clientv3.Config{
		Endpoints:   c.Hosts,
		Username:    c.User,
		Password:    c.Pass,
		DialTimeout: c.timeout(),
		// Pings find a dead connection (a partition without resets). etcd
		// drops clients that ping more often than every 5s by default.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: c.timeout(),
		// The client's own retry logs would flood ours; our errors carry
		// the same information with the cluster's context.
		Logger: zap.NewNop(),
		// gRPC's default reconnect back-off grows to 2 minutes, which would
		// keep strait on a frozen set that long after etcd is back.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           grpcbackoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: c.timeout(),
		})},
	}
	if c.TLS != nil {
		tc, err := c.TLS.load()
		if err != nil {
			return clientv3.Config{}, err
		}
		cfg.TLS = tc
	}
	return cfg, nil
}

func (t *TLS) load() (*tls.Config, error) {
	info := transport.TLSInfo{CertFile: t.Cert, KeyFile: t.Key, TrustedCAFile: t.CA}
	tc, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tc, nil
}
