package tcpproxy

import (
	"fmt"
	"time"
)

// Drain modes: what happens to open connections to an endpoint that
// discovery removed.
const (
	// DrainKeep leaves them open until either side closes them.
	DrainKeep = "keep"
	// DrainClose closes them after DrainOptions.Grace.
	DrainClose = "close"
)

// DrainOptions say how connections to a removed endpoint end.
type DrainOptions struct {
	// Mode is DrainKeep (default) or DrainClose.
	Mode string `yaml:"mode"`
	// Grace is how long DrainClose waits before closing; zero closes at once.
	Grace time.Duration `yaml:"grace"`
}

// Options shape one TCP listener. The YAML keys are those of a listener
// with `protocol: tcp`, so the configuration can inline them.
type Options struct {
	// Name labels the listener in logs and statistics.
	Name string `yaml:"-"`
	// Cluster names the cluster the listener balances over, for the same
	// labels.
	Cluster string `yaml:"-"`
	// DialTimeout bounds each dial to an endpoint. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// DialAttempts is how many endpoints a connection tries before the
	// client is turned away. Default 3.
	DialAttempts int `yaml:"dial_attempts"`
	// MaxConnections caps open client connections; those beyond it are
	// closed at once and counted. Zero means no cap.
	MaxConnections int `yaml:"max_connections"`
	// IdleTimeout closes a connection that moved no byte either way for
	// this long (it closes within 1.25× of it). Zero means never.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxLifetime closes a connection this long after it was accepted.
	// Zero means never.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// ProxyProtocol is "", "v1" or "v2": the PROXY protocol header sent
	// to the backend before any byte of the client's, so that the backend
	// sees the client's address.
	ProxyProtocol string `yaml:"proxy_protocol"`
	// Drain says how connections to removed endpoints end.
	Drain DrainOptions `yaml:"drain"`
	// Observer, if set, hears of dials and bytes for the metrics.
	Observer Observer `yaml:"-"`
	// Finished, if set, hears of every client connection as it ends,
	// for access logs. It runs on the connection's goroutine.
	Finished func(ConnEnd) `yaml:"-"`
}

// Defaults for Options fields left zero.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultDialAttempts = 3
)

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.DialAttempts == 0 {
		o.DialAttempts = DefaultDialAttempts
	}
	if o.Drain.Mode == "" {
		o.Drain.Mode = DrainKeep
	}
	return o
}

// Validate reports the first invalid field, named by its YAML key under
// prefix (such as "listeners[2]").
func (o Options) Validate(prefix string) error {
	durations := []struct {
		key string
		d   time.Duration
	}{{"dial_timeout", o.DialTimeout}, {"idle_timeout", o.IdleTimeout},
		{"max_lifetime", o.MaxLifetime}, {"drain.grace", o.Drain.Grace}}
	for _, f := range durations {
		if f.d < 0 {
			return fmt.Errorf("%s.%s: %v is negative", prefix, f.key, f.d)
		}
	}
	if o.DialAttempts < 0 {
		return fmt.Errorf("%s.dial_attempts: %d is negative", prefix, o.DialAttempts)
	}
	if o.MaxConnections < 0 {
		return fmt.Errorf("%s.max_connections: %d is negative", prefix, o.MaxConnections)
	}
	switch o.ProxyProtocol {
	case "", "v1", "v2":
	default:
		return fmt.Errorf("%s.proxy_protocol: %q is not one of v1, v2 or empty", prefix, o.ProxyProtocol)
	}
	switch o.Drain.Mode {
	case "", DrainKeep, DrainClose:
	default:
		return fmt.Errorf("%s.drain.mode: %q is not one of %s, %s", prefix, o.Drain.Mode, DrainKeep, DrainClose)
	}
	return nil
}
