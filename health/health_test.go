package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeClock is advanced by hand so no test waits on real time.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func TestClassify(t *testing.T) {
	live := context.Background()
	soon, cancel3 := context.WithTimeout(context.Background(), DeadlineSlack/2)
	defer cancel3()
	later, cancel4 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel4()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	def, err := NewClassifier(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want Verdict
	}{
		{"ok", live, nil, Success},
		{"unavailable", live, status.Error(codes.Unavailable, "x"), Failure},
		{"internal", live, status.Error(codes.Internal, "x"), Failure},
		{"unknown", live, status.Error(codes.Unknown, "x"), Failure},
		{"data loss", live, status.Error(codes.DataLoss, "x"), Failure},
		{"backend deadline", live, status.Error(codes.DeadlineExceeded, "x"), Failure},
		{"client deadline", expired, status.Error(codes.DeadlineExceeded, "x"), Ignore},
		{"propagated deadline", soon, status.Error(codes.DeadlineExceeded, "x"), Ignore},
		{"backend's own deadline", later, status.Error(codes.DeadlineExceeded, "x"), Failure},
		{"client cancel", cancelled, status.Error(codes.Canceled, "x"), Ignore},
		{"cancel code", live, status.Error(codes.Canceled, "x"), Ignore},
		{"not found", live, status.Error(codes.NotFound, "x"), Success},
		{"invalid argument", live, status.Error(codes.InvalidArgument, "x"), Success},
		{"resource exhausted", live, status.Error(codes.ResourceExhausted, "x"), Success},
		{"connection error", live, errors.New("connection refused"), Failure},
	}
	for _, c := range cases {
		if got := def.Classify(c.ctx, c.err); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestClassifyConfigured(t *testing.T) {
	c, err := NewClassifier([]string{"resource_exhausted", "UNAVAILABLE"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got := c.Classify(ctx, status.Error(codes.ResourceExhausted, "x")); got != Failure {
		t.Errorf("resource exhausted: got %v", got)
	}
	if got := c.Classify(ctx, status.Error(codes.Internal, "x")); got != Success {
		t.Errorf("internal not listed: got %v", got)
	}
	if _, err := NewClassifier([]string{"NOPE"}); err == nil {
		t.Error("unknown code accepted")
	}
}

func TestValidateNamesField(t *testing.T) {
	cases := map[string]BreakerOptions{
		"b.failure_ratio": {FailureRatio: 1.5},
		"b.timeout":       {Timeout: -time.Second},
		"b.max_timeout":   {Timeout: 10 * time.Second, MaxTimeout: time.Second},
		"b.failure_codes": {FailureCodes: []string{"bogus"}},
		"b.window":        {Window: -1},
	}
	for field, o := range cases {
		err := o.Validate("b")
		if err == nil || !strings.Contains(err.Error(), field+":") {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if err := (BreakerOptions{}).Validate("b"); err != nil {
		t.Errorf("zero options: %v", err)
	}
}
