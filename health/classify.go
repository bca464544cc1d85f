package health

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultFailureCodes are the codes that mean the endpoint, not the
// request, is at fault.
var DefaultFailureCodes = []codes.Code{
	codes.Unavailable, codes.Internal, codes.Unknown, codes.DataLoss, codes.DeadlineExceeded,
}

// Classifier turns a call's outcome into a Verdict. The zero value treats
// every status error as a success; use NewClassifier.
type Classifier struct {
	failure [codes.Unauthenticated + 1]bool
}

// NewClassifier counts the named codes (such as "UNAVAILABLE" or
// "deadline_exceeded") as failures; no names means DefaultFailureCodes.
func NewClassifier(names []string) (Classifier, error) {
	var c Classifier
	if len(names) == 0 {
		for _, code := range DefaultFailureCodes {
			c.failure[code] = true
		}
		return c, nil
	}
	for _, n := range names {
		var code codes.Code
		if err := code.UnmarshalJSON([]byte(`"` + strings.ToUpper(n) + `"`)); err != nil {
			return Classifier{}, fmt.Errorf("unknown gRPC code %q", n)
		}
		c.failure[code] = true
	}
	return c, nil
}

// DeadlineSlack is how close to the client's deadline a DeadlineExceeded
// is taken for the client's own: gRPC sends the deadline along, so the
// backend gives up at about the same moment, a little before the client's
// context notices.
const DeadlineSlack = 50 * time.Millisecond

// Classify judges a finished call. ctx is the call's context: once it is
// done the client cancelled or its own deadline ran out, which says nothing
// about the endpoint. A DeadlineExceeded counts only when the call had no
// deadline or more than DeadlineSlack of it was left: then the backend (or
// a hop behind it) ran out of its own time. Errors that carry no gRPC
// status are connection errors and always count as failures.
func (c Classifier) Classify(ctx context.Context, err error) Verdict {
	if err == nil {
		return Success
	}
	if ctx != nil && ctx.Err() != nil {
		return Ignore
	}
	st, ok := status.FromError(err)
	if !ok {
		return Failure
	}
	code := st.Code()
	if code == codes.Canceled || code == codes.DeadlineExceeded && nearDeadline(ctx) {
		return Ignore
	}
	if int(code) < len(c.failure) && c.failure[code] {
		return Failure
	}
	return Success
}

func nearDeadline(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < DeadlineSlack
}
