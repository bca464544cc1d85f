package config

import (
	"time"

	"google.golang.org/grpc/codes"
)

// HedgePolicy hedges a route's calls with gRFC A6's semantics: while a
// call's attempt has no response headers after Delay, another attempt
// goes to an endpoint not yet tried, up to MaxAttempts in all; the
// first to answer wins and the others are cancelled. Relay listeners
// only, on routes marked idempotent.
type HedgePolicy struct {
	// MaxAttempts counts the first attempt: 2 to 5. Default 2.
	MaxAttempts int `yaml:"max_attempts"`
	// Delay is how long an attempt waits for response headers before
	// the next goes out. Default 50ms.
	Delay time.Duration `yaml:"delay"`
	// DelayFactor, when set, makes each call's delay this many times
	// the balancer's latency estimate (peak EWMA, to response headers)
	// of the endpoint its first attempt went to, never below Delay.
	// Default 0: the delay is fixed.
	DelayFactor float64 `yaml:"delay_factor"`
	// NonFatalStatusCodes are gRPC code names that do not end the call
	// while another attempt may answer; the next attempt goes at once.
	// Default none.
	NonFatalStatusCodes []string `yaml:"non_fatal_status_codes"`
}

// Hedging defaults.
const (
	DefaultHedgeMaxAttempts = 2
	DefaultHedgeDelay       = 50 * time.Millisecond
)

func (p *HedgePolicy) applyDefaults() {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultHedgeMaxAttempts
	}
	if p.Delay == 0 {
		p.Delay = DefaultHedgeDelay
	}
}

// Codes are the non-fatal codes; validate has checked the names.
func (p *HedgePolicy) Codes() []codes.Code { return codesByName(p.NonFatalStatusCodes) }

func (p *HedgePolicy) validate(path string) error {
	switch {
	case p.MaxAttempts < 2 || p.MaxAttempts > 5:
		return errorf(path+".max_attempts", "%d is not between 2 and 5", p.MaxAttempts)
	case p.Delay < time.Millisecond:
		return errorf(path+".delay", "%s is below 1ms", p.Delay)
	case p.DelayFactor < 0 || p.DelayFactor > 100:
		return errorf(path+".delay_factor", "%g is not between 0 (a fixed delay) and 100", p.DelayFactor)
	}
	for i, n := range p.NonFatalStatusCodes {
		if c, ok := codeByName(n); !ok || c == codes.OK {
			return errorf(path+".non_fatal_status_codes", "%q (item %d) is not a gRPC error code", n, i)
		}
	}
	return nil
}

// validateRoutePolicies checks a route's retry and hedging options:
// both run on the relay only, and exclude each other (gRFC A6); hedging
// runs a call more than once at the same time, so only on a route said
// to be idempotent.
func validateRoutePolicies(r Route, path, dataplane string) error {
	grpc := dataplane == DataplaneGRPC
	switch {
	case grpc && r.Retry != nil:
		return errorf(path+".retry", "retries run on the relay only (dataplane: relay)")
	case grpc && r.Hedge != nil:
		return errorf(path+".hedge", "hedging runs on the relay only (dataplane: relay)")
	case grpc && r.Idempotent:
		return errorf(path+".idempotent", "marks a route for hedging, which runs on the relay only (dataplane: relay)")
	case r.Hedge != nil && r.Retry != nil:
		return errorf(path+".hedge", "a route retries or hedges, not both (remove retry or hedge)")
	case r.Hedge != nil && !r.Idempotent:
		return errorf(path+".hedge", "hedging runs a call more than once: set idempotent: true on the route if it is safe")
	}
	if r.Retry != nil {
		if err := r.Retry.validate(path + ".retry"); err != nil {
			return err
		}
	}
	if r.Hedge != nil {
		return r.Hedge.validate(path + ".hedge")
	}
	return nil
}
