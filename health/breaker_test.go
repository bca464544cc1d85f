package health

import (
	"errors"
	"testing"
	"time"
)

type transition struct{ from, to State }

func newTestBreaker(o BreakerOptions) (*CircuitBreaker, *fakeClock, *[]transition) {
	clk := newClock()
	var seen []transition
	b := NewBreaker(o, clk.now, func() float64 { return 0.5 }, func(from, to State) {
		seen = append(seen, transition{from, to})
	})
	return b, clk, &seen
}

func call(t *testing.T, b *CircuitBreaker, v Verdict) {
	t.Helper()
	done, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow: %v (state %v)", err, b.State())
	}
	done(v)
}

func trip(t *testing.T, b *CircuitBreaker) {
	t.Helper()
	for range DefaultConsecutiveFailures {
		call(t, b, Failure)
	}
}

func TestBreakerTripsAndRecovers(t *testing.T) {
	b, clk, seen := newTestBreaker(BreakerOptions{})
	for range DefaultConsecutiveFailures - 1 {
		call(t, b, Failure)
	}
	call(t, b, Success) // breaks the run
	for range DefaultConsecutiveFailures - 1 {
		call(t, b, Failure)
	}
	if b.State() != Closed {
		t.Fatalf("tripped before %d failures in a row", DefaultConsecutiveFailures)
	}
	call(t, b, Failure)
	if b.State() != Open || b.Ejections() != 1 {
		t.Fatalf("state %v ejections %d, want open 1", b.State(), b.Ejections())
	}
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("open breaker admitted a call: %v", err)
	}
	clk.advance(DefaultTimeout - time.Millisecond)
	if b.State() != Open {
		t.Fatal("ejection ended early")
	}
	clk.advance(2 * time.Millisecond)
	if b.State() != HalfOpen {
		t.Fatalf("state %v after timeout, want half-open", b.State())
	}
	probe, err := b.Allow()
	if err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatal("second call admitted while the single probe is in flight")
	}
	probe(Success)
	if b.State() != Closed {
		t.Fatalf("state %v after a good probe", b.State())
	}
	want := []transition{{Closed, Open}, {Open, HalfOpen}, {HalfOpen, Closed}}
	if len(*seen) != len(want) {
		t.Fatalf("transitions %v, want %v", *seen, want)
	}
	for i := range want {
		if (*seen)[i] != want[i] {
			t.Fatalf("transitions %v, want %v", *seen, want)
		}
	}
}

func TestBreakerBacksOff(t *testing.T) {
	b, clk, _ := newTestBreaker(BreakerOptions{Timeout: time.Second, MaxTimeout: 5 * time.Second})
	trip(t, b)
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if b.Timeout() != want {
			t.Fatalf("ejection %d lasts %v, want %v", b.Ejections(), b.Timeout(), want)
		}
		clk.advance(want - time.Millisecond)
		if b.State() != Open {
			t.Fatalf("back in before %v", want)
		}
		clk.advance(time.Millisecond)
		call(t, b, Failure) // the probe fails: ejected again
	}
	clk.advance(5 * time.Second)
	call(t, b, Success)
	clk.advance(5 * time.Second) // stays in for MaxTimeout
	trip(t, b)
	if b.Timeout() != time.Second {
		t.Fatalf("after a long healthy spell the ejection lasts %v, want 1s", b.Timeout())
	}
}

func TestBreakerJitter(t *testing.T) {
	clk := newClock()
	low := NewBreaker(BreakerOptions{}, clk.now, func() float64 { return 0 }, nil)
	trip(t, low)
	if got, want := low.Timeout(), time.Duration(float64(DefaultTimeout)*(1-DefaultJitter)); got != want {
		t.Fatalf("jitter low: %v, want %v", got, want)
	}
}

func TestBreakerIgnoresCancels(t *testing.T) {
	b, _, _ := newTestBreaker(BreakerOptions{})
	for range 3 * DefaultConsecutiveFailures {
		call(t, b, Ignore)
	}
	for range DefaultConsecutiveFailures - 1 {
		call(t, b, Failure)
		call(t, b, Ignore)
	}
	if b.State() != Closed {
		t.Fatal("ignored calls tripped the breaker")
	}
	call(t, b, Failure)
	if b.State() != Open {
		t.Fatal("ignored calls broke the run of failures")
	}
}

func TestBreakerFailureRatio(t *testing.T) {
	b, _, _ := newTestBreaker(BreakerOptions{FailureRatio: 0.5, MinRequests: 10, ConsecutiveFailures: 100})
	for range 4 {
		call(t, b, Failure)
		call(t, b, Success)
	}
	if b.State() != Closed {
		t.Fatal("tripped below MinRequests")
	}
	call(t, b, Success)
	call(t, b, Failure) // gobreaker judges the ratio when a call fails
	if b.State() != Open {
		t.Fatalf("state %v at 50%% failures over 10 calls", b.State())
	}
}
