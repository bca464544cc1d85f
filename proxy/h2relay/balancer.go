package h2relay

import (
	"crypto/tls"
	"sync/atomic"
	"time"

	"github.com/straitproxy/strait/upstream"
	"google.golang.org/grpc/codes"
)

// Balancer chooses the endpoint of each call to one cluster. Safe for
// concurrent use; the relay calls Pick on its connection goroutines, so
// Pick must not block.
type Balancer interface {
	// Pick admits one call; ok is false when no endpoint can take it.
	Pick() (c Call, ok bool)
}

// AvoidingBalancer is a Balancer that can pick around endpoints, so
// that a call's retry goes to an endpoint the call has not tried.
type AvoidingBalancer interface {
	Balancer
	// PickAvoiding is Pick among the endpoints avoid does not name; ok
	// is false when no other endpoint can take the call.
	PickAvoiding(avoid func(addr string) bool) (c Call, ok bool)
}

// TLSBalancer is a Balancer whose endpoints are reached over TLS (ALPN
// h2) with their own configuration, such as a cluster's upstream TLS.
type TLSBalancer interface {
	Balancer
	// UpstreamTLS is the client configuration; nil means h2c.
	UpstreamTLS() *tls.Config
}

// Call is one admitted call on one endpoint. The relay calls
// FirstResponse at most once, when the first response HEADERS arrive
// and do not end the call (so a long stream measures its time to first
// response, not its life; a trailers-only response is judged by End
// alone, since one cut short by its deadline says nothing of the
// endpoint's speed), and End exactly once. Both may run under relay locks: they must not
// block or call back into the relay.
type Call interface {
	// Addr is the endpoint's host:port.
	Addr() string
	// FirstResponse marks the arrival of the first response headers;
	// the balancer times it from its Pick (a wait for a connection or a
	// stream slot at the endpoint counts: it is that endpoint's load).
	FirstResponse()
	// End reports how the call ended.
	End(Outcome)
}

// EstimatedCall is a Call whose balancer keeps a latency estimate of
// its endpoint (to the first response headers); a hedge policy may take
// its delay from it.
type EstimatedCall interface {
	Call
	// Latency is the endpoint's estimate, without failure penalties.
	Latency() time.Duration
}

// Outcome says how a call ended, for the meter and the breaker.
type Outcome struct {
	// Code is the grpc-status the endpoint sent (OK when it sent none
	// but ended cleanly). Meaningful only when Err is nil and Local false.
	Code codes.Code
	// Message is the endpoint's grpc-message when Code is not OK, for the
	// endpoint's last error on the status page.
	Message string
	// Err is set when the call ended without a status: a stream reset by
	// the endpoint, a lost connection, a failed dial.
	Err error
	// Local is set when the call's end says nothing about the endpoint:
	// the client or the relay ended it (cancel, size limit, a pool the
	// relay closed), the endpoint refused it unprocessed as it went away
	// (GOAWAY), or its own deadline (grpc-timeout) ran out: a
	// DeadlineExceeded or a reset from the endpoint then is the client's
	// deadline, not a fault.
	Local bool

	reset bool // Err is the endpoint's RST_STREAM
}

// RoundRobin is a Balancer that takes a cluster's endpoints in turn. It
// has no health state; strait serves with LBPool (the lb core), and the
// tests and benchmarks use RoundRobin where the choice of endpoint must
// not adapt.
type RoundRobin struct {
	addrs atomic.Pointer[[]string]
	next  atomic.Uint64
}

var _ Balancer = (*RoundRobin)(nil)

// NewRoundRobin follows guard's sets until cancel is called.
func NewRoundRobin(guard *upstream.Guard) (rr *RoundRobin, cancel func()) {
	rr = &RoundRobin{}
	cancel = guard.Subscribe(func(s upstream.Snapshot) {
		if s.State == upstream.NeverSynced && s.LastErr == nil {
			return
		}
		addrs := upstream.Addrs(s.Endpoints)
		rr.addrs.Store(&addrs)
	})
	return rr, cancel
}

// Pick returns the next endpoint in turn.
func (r *RoundRobin) Pick() (Call, bool) {
	p := r.addrs.Load()
	if p == nil || len(*p) == 0 {
		return nil, false
	}
	n := r.next.Add(1)
	return rrCall((*p)[n%uint64(len(*p))]), true
}

// PickAvoiding returns the next endpoint in turn that avoid does not
// name.
func (r *RoundRobin) PickAvoiding(avoid func(addr string) bool) (Call, bool) {
	p := r.addrs.Load()
	if p == nil {
		return nil, false
	}
	for range len(*p) {
		c, ok := r.Pick()
		if !ok {
			return nil, false
		}
		if !avoid(c.Addr()) {
			return c, true
		}
	}
	return nil, false
}

type rrCall string

func (c rrCall) Addr() string { return string(c) }
func (rrCall) FirstResponse() {}
func (rrCall) End(Outcome)    {}
