// Package health decides when an endpoint is taken out of rotation and when
// it is let back in: a circuit breaker per endpoint (gobreaker behind a
// small interface of our own), the classification of call outcomes into
// successes and failures, and the back-off of repeated ejections.
//
// The package never looks at the wall clock directly: every breaker takes
// its time from an injected clock so tests and the simulator drive it.
package health

import (
	"errors"
	"time"
)

// Verdict is what one finished call means for an endpoint's health.
type Verdict int

const (
	// Success: the endpoint answered (application errors included).
	Success Verdict = iota
	// Failure: the endpoint is broken, unreachable or out of time.
	Failure
	// Ignore: the call says nothing about the endpoint (the client
	// cancelled or its own deadline ran out).
	Ignore
)

// String names the verdict for logs.
func (v Verdict) String() string {
	switch v {
	case Success:
		return "success"
	case Failure:
		return "failure"
	default:
		return "ignore"
	}
}

// State is a breaker's position.
type State int

const (
	// Closed: the endpoint takes traffic.
	Closed State = iota
	// HalfOpen: the ejection timeout passed; a few probes decide.
	HalfOpen
	// Open: the endpoint is ejected.
	Open
)

// String names the state as the status page shows it.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	default:
		return "open"
	}
}

// ErrOpen is returned by Allow while an endpoint is ejected or while its
// half-open probes are all in flight.
var ErrOpen = errors.New("health: endpoint ejected")

// Breaker gates the calls to one endpoint. Implementations are safe for
// concurrent use.
type Breaker interface {
	// Allow admits one call, or refuses it with ErrOpen. When admitted,
	// done must be called exactly once with the call's verdict.
	Allow() (done func(Verdict), err error)
	// State reports the position without taking a lock, so a picker can
	// skip ejected endpoints cheaply.
	State() State
}

// Clock returns the current time. Tests pass a fake one.
type Clock func() time.Time
