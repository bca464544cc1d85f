package h2relay

import (
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
)

// RetryPolicy is a route's retry policy, with gRFC A6's meaning: a call
// that ends with one of the retryable codes (or whose connection is
// lost, as Unavailable) before it committed, that is before any response
// headers, is sent again after a backoff, on an endpoint it has not
// tried while one remains, at most MaxAttempts times in all. Each retry
// carries grpc-previous-rpc-attempts; an endpoint's
// grpc-retry-pushback-ms replaces the backoff, or stops retries when
// negative.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt too (2 or more).
	MaxAttempts int
	// InitialBackoff, MaxBackoff and BackoffMultiplier shape the wait
	// before retry n: random in [0, min(Initial·Multiplier^(n-1), Max)).
	InitialBackoff, MaxBackoff time.Duration
	BackoffMultiplier          float64
	// RetryableCodes are the statuses that are retried.
	RetryableCodes []codes.Code
}

func (p *RetryPolicy) retryable(c codes.Code) bool {
	for _, r := range p.RetryableCodes {
		if r == c {
			return true
		}
	}
	return false
}

// backoff is the wait before retry n (1 for the first retry).
func (p *RetryPolicy) backoff(n int) time.Duration {
	d := float64(p.InitialBackoff)
	for range n - 1 {
		d *= p.BackoffMultiplier
		if d >= float64(p.MaxBackoff) {
			break
		}
	}
	d = min(d, float64(p.MaxBackoff))
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Float64() * d)
}

// PolicyRouter is a Router that also names each method's retry policy.
type PolicyRouter interface {
	Router
	// RetryPolicy is method's policy; nil means no configured retries.
	RetryPolicy(method string) *RetryPolicy
}

// BudgetedBalancer is a Balancer whose cluster bounds its retries.
type BudgetedBalancer interface {
	Balancer
	// RetryBudget is the cluster's budget; nil means unbounded.
	RetryBudget() *RetryBudget
}

// budgetWindow is how far back a RetryBudget counts, in seconds.
const budgetWindow = 10

// RetryBudget bounds a cluster's configured retries to a ratio of its
// calls plus a floor per second, over the last ten seconds, so that a
// failure of the whole cluster never multiplies its load. A retry over
// budget is not made: the call fails as it would have. Transparent
// retries of calls an endpoint did not process are not counted. Safe
// for concurrent use; a call costs two atomic adds.
type RetryBudget struct {
	ratio, floor float64 // floor: retries allowed per second regardless
	slots        [budgetWindow]budgetSlot
}

type budgetSlot struct {
	sec            atomic.Int64
	calls, retries atomic.Int64
}

// NewRetryBudget allows retries up to ratio of the calls plus
// perSecond each second.
func NewRetryBudget(ratio, perSecond float64) *RetryBudget {
	b := &RetryBudget{ratio: ratio, floor: perSecond}
	for i := range b.slots {
		b.slots[i].sec.Store(-budgetWindow)
	}
	return b
}

func budgetSecond() int64 { return int64(sinceStart() / time.Second) }

// slot is the counters of second now, emptied when last used for an
// older second. Two callers may both empty it; a count or two lost at a
// second's turn does not matter to a ratio over ten.
func (b *RetryBudget) slot(now int64) *budgetSlot {
	s := &b.slots[now%budgetWindow]
	if old := s.sec.Load(); old != now && s.sec.CompareAndSwap(old, now) {
		s.calls.Store(0)
		s.retries.Store(0)
	}
	return s
}

// deposit counts an original call.
func (b *RetryBudget) deposit() { b.slot(budgetSecond()).calls.Add(1) }

// withdraw takes a retry from the budget; false when it is spent.
func (b *RetryBudget) withdraw() bool {
	now := budgetSecond()
	var calls, retries int64
	for i := range b.slots {
		s := &b.slots[i]
		if now-s.sec.Load() < budgetWindow {
			calls += s.calls.Load()
			retries += s.retries.Load()
		}
	}
	if float64(retries) >= b.ratio*float64(calls)+b.floor*budgetWindow {
		return false
	}
	b.slot(now).retries.Add(1)
	return true
}

func budgetOf(bal Balancer) *RetryBudget {
	if bb, ok := bal.(BudgetedBalancer); ok {
		return bb.RetryBudget()
	}
	return nil
}

// retryPolicy is the policy of s's method under the current routes.
func (s *stream) retryPolicy() *RetryPolicy {
	if pr, ok := s.srv.routes.Load().router.(PolicyRouter); ok {
		return pr.RetryPolicy(s.method)
	}
	return nil
}

// pushback reads grpc-retry-pushback-ms: ok is false when the endpoint
// asked for no retry (a negative or malformed value).
func pushback(fields []hpackField) (d time.Duration, set, ok bool) {
	for _, f := range fields {
		if f.Name == "grpc-retry-pushback-ms" {
			ms, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || ms < 0 {
				return 0, true, false
			}
			return time.Duration(ms) * time.Millisecond, true, true
		}
	}
	return 0, false, true
}

// setPreviousAttempts puts grpc-previous-rpc-attempts: n in s's
// request headers.
func (s *stream) setPreviousAttempts(n int) {
	v := strconv.Itoa(n)
	for i := range s.hdrs {
		if s.hdrs[i].Name == "grpc-previous-rpc-attempts" {
			s.hdrs[i].Value = v
			return
		}
	}
	s.hdrs = append(s.hdrs, hpackField{Name: "grpc-previous-rpc-attempts", Value: v})
}
