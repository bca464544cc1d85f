package health

import (
	"fmt"
	"time"
)

// Defaults for BreakerOptions fields left zero.
const (
	DefaultConsecutiveFailures = 5
	DefaultMinRequests         = 20
	DefaultTimeout             = time.Second
	DefaultMaxTimeout          = 30 * time.Second
	DefaultProbes              = 1
	DefaultJitter              = 0.2
)

// BreakerOptions configure the breakers of one cluster. Zero fields take
// the defaults above. Embedded in the cluster configuration as
// `balancer.breaker`.
type BreakerOptions struct {
	// ConsecutiveFailures in a row eject an endpoint.
	ConsecutiveFailures uint32 `yaml:"consecutive_failures" json:"consecutiveFailures,omitempty"`
	// FailureRatio, when above zero, also ejects an endpoint whose share of
	// failures in Window reaches it after at least MinRequests calls.
	FailureRatio float64 `yaml:"failure_ratio" json:"failureRatio,omitempty"`
	// MinRequests is the volume below which FailureRatio is not judged.
	MinRequests uint32 `yaml:"min_requests" json:"minRequests,omitempty"`
	// Window is how long closed-state counts are kept before they reset;
	// zero keeps them until a success breaks the run. gobreaker measures it
	// with the wall clock.
	Window time.Duration `yaml:"window" json:"window,omitempty"`
	// Timeout is how long the first ejection lasts.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// MaxTimeout caps the ejection time, which doubles with each ejection
	// in a row; an endpoint that stayed in for MaxTimeout starts over.
	MaxTimeout time.Duration `yaml:"max_timeout" json:"maxTimeout,omitempty"`
	// Probes is how many calls a half-open endpoint admits; that many
	// successes in a row close it.
	Probes uint32 `yaml:"probes" json:"probes,omitempty"`
	// FailureCodes are the gRPC code names that count as failures
	// (default: UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS,
	// DEADLINE_EXCEEDED). Connection errors always count.
	FailureCodes []string `yaml:"failure_codes" json:"failureCodes,omitempty"`
}

// WithDefaults returns o with zero fields set to their defaults.
func (o BreakerOptions) WithDefaults() BreakerOptions {
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if o.MinRequests == 0 {
		o.MinRequests = DefaultMinRequests
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxTimeout == 0 {
		o.MaxTimeout = max(DefaultMaxTimeout, o.Timeout)
	}
	if o.Probes == 0 {
		o.Probes = DefaultProbes
	}
	return o
}

// Validate reports the first invalid field, named by its YAML key under
// prefix (such as "clusters.users.balancer.breaker").
func (o BreakerOptions) Validate(prefix string) error {
	switch {
	case o.FailureRatio < 0 || o.FailureRatio > 1:
		return fmt.Errorf("%s.failure_ratio: %v is not between 0 and 1", prefix, o.FailureRatio)
	case o.Window < 0:
		return fmt.Errorf("%s.window: %v is negative", prefix, o.Window)
	case o.Timeout < 0:
		return fmt.Errorf("%s.timeout: %v is negative", prefix, o.Timeout)
	case o.MaxTimeout < 0:
		return fmt.Errorf("%s.max_timeout: %v is negative", prefix, o.MaxTimeout)
	case o.MaxTimeout > 0 && o.MaxTimeout < o.Timeout:
		return fmt.Errorf("%s.max_timeout: %v is shorter than timeout %v", prefix, o.MaxTimeout, o.Timeout)
	}
	if _, err := NewClassifier(o.FailureCodes); err != nil {
		return fmt.Errorf("%s.failure_codes: %w", prefix, err)
	}
	return nil
}
