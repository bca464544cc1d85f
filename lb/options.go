package lb

import (
	"fmt"
	"time"

	"github.com/straitproxy/strait/health"
)

// Policy names accepted in Options.Policy.
const (
	PolicyP2CEWMA      = Name
	PolicyRoundRobin   = "round_robin"
	PolicyLeastRequest = "least_request"
)

// Defaults for Options fields left zero.
const (
	DefaultTau            = 10 * time.Second
	DefaultRise           = 50 * time.Millisecond
	DefaultPrior          = 10 * time.Millisecond
	DefaultPenalty        = 10 * time.Second
	DefaultSlowStart      = 10 * time.Second
	DefaultGrace          = 5 * time.Minute
	DefaultPanicThreshold = 50.0
	DefaultCheckInterval  = 5 * time.Second
	DefaultCheckTimeout   = time.Second
)

// Options are a cluster's balancer settings, embedded in the configuration
// as `clusters.<name>.balancer`. Zero fields take the defaults.
type Options struct {
	// Policy is p2c_ewma (default), round_robin or least_request.
	Policy string `yaml:"policy" json:"policy,omitempty"`
	// Tau is the latency estimate's decay time: how slowly it falls
	// toward faster answers, and toward zero while the endpoint is idle.
	Tau time.Duration `yaml:"tau" json:"tau,omitempty"`
	// Rise is the time constant with which the estimate follows slower
	// answers; at most Tau (default 50 ms, or Tau if that is shorter).
	Rise time.Duration `yaml:"rise" json:"rise,omitempty"`
	// Prior is the latency estimate of a new endpoint when there is no
	// other endpoint to borrow the average estimate from.
	Prior time.Duration `yaml:"prior" json:"prior,omitempty"`
	// Penalty is the latency a failed call counts as; it fades with the
	// breaker timeout as time constant, doubled for each failure in a row.
	Penalty time.Duration `yaml:"penalty" json:"penalty,omitempty"`
	// SlowStart is how long a new endpoint's share ramps up.
	SlowStart time.Duration `yaml:"slow_start" json:"slowStart,omitempty"`
	// Grace is how long a removed endpoint's statistics are kept in case
	// it comes back.
	Grace time.Duration `yaml:"grace" json:"grace,omitempty"`
	// PanicThreshold is the percentage of ejected endpoints above which
	// ejection is ignored and traffic goes to every endpoint.
	PanicThreshold float64 `yaml:"panic_threshold" json:"panicThreshold,omitempty"`
	// Breaker configures the per-endpoint circuit breakers.
	Breaker health.BreakerOptions `yaml:"breaker" json:"breaker,omitzero"`
	// HealthCheck configures active grpc.health.v1 checks.
	HealthCheck HealthCheckOptions `yaml:"health_check" json:"-"`
}

// HealthCheckOptions configure active health checks. The grpc-go data
// path uses grpc-go's client-side health checking (a grpc.health.v1 Watch
// stream per connection, so Interval and Timeout do not apply); the relay
// polls grpc.health.v1 Check and the L4 proxy polls a TCP connect, each
// with a health.Prober every Interval, each check bounded by Timeout. An
// endpoint that reports anything but SERVING takes no traffic.
type HealthCheckOptions struct {
	// Enabled turns the checks on.
	Enabled bool `yaml:"enabled"`
	// Service is the service name sent in the request ("" asks about the
	// server as a whole).
	Service string `yaml:"service"`
	// Interval is the time between two polls (relay and L4; default 5s).
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one poll (relay and L4; default 1s).
	Timeout time.Duration `yaml:"timeout"`
}

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.Policy == "" {
		o.Policy = PolicyP2CEWMA
	}
	o.Tau = orDefault(o.Tau, DefaultTau)
	o.Rise = orDefault(o.Rise, min(DefaultRise, o.Tau)) // a short tau alone stays valid
	o.Prior = orDefault(o.Prior, DefaultPrior)
	o.Penalty = orDefault(o.Penalty, DefaultPenalty)
	o.SlowStart = orDefault(o.SlowStart, DefaultSlowStart)
	o.Grace = orDefault(o.Grace, DefaultGrace)
	if o.PanicThreshold == 0 {
		o.PanicThreshold = DefaultPanicThreshold
	}
	o.Breaker = o.Breaker.WithDefaults()
	o.HealthCheck.Interval = orDefault(o.HealthCheck.Interval, DefaultCheckInterval)
	o.HealthCheck.Timeout = orDefault(o.HealthCheck.Timeout, DefaultCheckTimeout)
	return o
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Validate reports the first invalid field, named by its YAML key under
// prefix (such as "clusters.users.balancer").
func (o Options) Validate(prefix string) error {
	switch o.Policy {
	case "", PolicyP2CEWMA, PolicyRoundRobin, PolicyLeastRequest:
	default:
		return fmt.Errorf("%s.policy: %q is not one of %s, %s, %s",
			prefix, o.Policy, PolicyP2CEWMA, PolicyRoundRobin, PolicyLeastRequest)
	}
	durations := []struct {
		key string
		d   time.Duration
	}{{"tau", o.Tau}, {"rise", o.Rise}, {"prior", o.Prior}, {"penalty", o.Penalty}, {"slow_start", o.SlowStart}, {"grace", o.Grace},
		{"health_check.interval", o.HealthCheck.Interval}, {"health_check.timeout", o.HealthCheck.Timeout}}
	for _, f := range durations {
		if f.d < 0 {
			return fmt.Errorf("%s.%s: %v is negative", prefix, f.key, f.d)
		}
	}
	if d := o.WithDefaults(); d.Rise > d.Tau {
		return fmt.Errorf("%s.rise: %v is longer than tau %v", prefix, d.Rise, d.Tau)
	}
	if o.PanicThreshold < 0 || o.PanicThreshold > 100 {
		return fmt.Errorf("%s.panic_threshold: %v is not a percentage between 0 and 100", prefix, o.PanicThreshold)
	}
	return o.Breaker.Validate(prefix + ".breaker")
}
