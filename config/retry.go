package config

import (
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// RetryPolicy retries a route's calls with gRFC A6's semantics: a call
// that fails with a retryable status before any response headers (or
// whose connection is lost after it went out, as UNAVAILABLE) is sent
// again, after a jittered exponential backoff, to an endpoint it has not
// tried. Relay listeners only.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt: 2 to 5. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// InitialBackoff, MaxBackoff and BackoffMultiplier: retry n waits a
	// random time below min(initial·multiplier^(n-1), max). Defaults
	// 50ms, 1s, 2.
	InitialBackoff    time.Duration `yaml:"initial_backoff"`
	MaxBackoff        time.Duration `yaml:"max_backoff"`
	BackoffMultiplier float64       `yaml:"backoff_multiplier"`
	// RetryableStatusCodes are gRPC code names. Default [UNAVAILABLE].
	RetryableStatusCodes []string `yaml:"retryable_status_codes"`
}

// RetryBudget bounds a cluster's configured retries: at most Ratio of
// its calls over the last ten seconds, plus MinPerSecond each second.
type RetryBudget struct {
	// Ratio of retries to calls, 0 to 1. Default 0.2.
	Ratio *float64 `yaml:"ratio"`
	// MinPerSecond retries are allowed whatever the calls. Default 10.
	MinPerSecond *float64 `yaml:"min_per_second"`
}

// Retry defaults.
const (
	DefaultRetryBuffer         = 256 << 10
	DefaultRetryBufferTotal    = 64 << 20
	DefaultRetryMaxAttempts    = 3
	DefaultRetryInitialBackoff = 50 * time.Millisecond
	DefaultRetryMaxBackoff     = time.Second
	DefaultRetryMultiplier     = 2
	DefaultRetryBudgetRatio    = 0.2
	DefaultRetryBudgetFloor    = 10
)

func (p *RetryPolicy) applyDefaults() {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultRetryMaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = DefaultRetryInitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = max(DefaultRetryMaxBackoff, p.InitialBackoff)
	}
	if p.BackoffMultiplier == 0 {
		p.BackoffMultiplier = DefaultRetryMultiplier
	}
	if len(p.RetryableStatusCodes) == 0 {
		p.RetryableStatusCodes = []string{"UNAVAILABLE"}
	}
}

// Codes are the retryable codes; validate has checked the names.
func (p *RetryPolicy) Codes() []codes.Code { return codesByName(p.RetryableStatusCodes) }

// codesByName maps validated status code names to their codes.
func codesByName(names []string) []codes.Code {
	out := make([]codes.Code, 0, len(names))
	for _, n := range names {
		c, _ := codeByName(n)
		out = append(out, c)
	}
	return out
}

// codeByName maps a status code name, in any case, to its code.
func codeByName(n string) (codes.Code, bool) {
	var c codes.Code
	err := c.UnmarshalJSON([]byte(`"` + strings.ToUpper(n) + `"`))
	return c, err == nil
}

func (p *RetryPolicy) validate(path string) error {
	switch {
	case p.MaxAttempts < 2 || p.MaxAttempts > 5:
		return errorf(path+".max_attempts", "%d is not between 2 and 5", p.MaxAttempts)
	case p.InitialBackoff < 0:
		return errorf(path+".initial_backoff", "%s is negative", p.InitialBackoff)
	case p.MaxBackoff < p.InitialBackoff:
		return errorf(path+".max_backoff", "%s is below initial_backoff", p.MaxBackoff)
	case p.BackoffMultiplier < 1:
		return errorf(path+".backoff_multiplier", "%g is below 1", p.BackoffMultiplier)
	}
	for i, n := range p.RetryableStatusCodes {
		if c, ok := codeByName(n); !ok || c == codes.OK {
			return errorf(path+".retryable_status_codes", "%q (item %d) is not a gRPC error code", n, i)
		}
	}
	return nil
}

// Values are the budget's ratio and floor with defaults filled in.
func (b *RetryBudget) Values() (ratio, perSecond float64) {
	ratio, perSecond = DefaultRetryBudgetRatio, DefaultRetryBudgetFloor
	if b != nil && b.Ratio != nil {
		ratio = *b.Ratio
	}
	if b != nil && b.MinPerSecond != nil {
		perSecond = *b.MinPerSecond
	}
	return ratio, perSecond
}

func (b *RetryBudget) validate(path string) error {
	ratio, floor := b.Values()
	if ratio < 0 || ratio > 1 {
		return errorf(path+".ratio", "%g is not between 0 and 1", ratio)
	}
	if floor < 0 {
		return errorf(path+".min_per_second", "%g is negative", floor)
	}
	return nil
}
