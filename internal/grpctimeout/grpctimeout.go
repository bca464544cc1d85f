// Package grpctimeout reads and writes the grpc-timeout request header:
// the time a gRPC client gives a call, as up to eight digits and a unit
// (H, M, S, m, u or n).
package grpctimeout

import (
	"math"
	"strconv"
	"time"
)

// Parse reads a grpc-timeout value. ok is false when v is malformed. A
// value beyond what a time.Duration holds (only hours can be) is the
// largest Duration: for a deadline, that is never.
func Parse(v string) (d time.Duration, ok bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v)-1; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64, true
	}
	return time.Duration(n) * unit, true
}

// maxDigits is the most digits a value may have.
const maxDigits = 1e8

// Format writes d as a grpc-timeout value in the finest unit that fits
// in eight digits, rounding up so that the receiver's deadline is never
// earlier than d allows. A d of zero or less is "0n": already expired.
func Format(d time.Duration) string {
	if d <= 0 {
		return "0n"
	}
	for _, u := range [...]struct {
		unit time.Duration
		name byte
	}{{time.Nanosecond, 'n'}, {time.Microsecond, 'u'}, {time.Millisecond, 'm'}, {time.Second, 'S'}, {time.Minute, 'M'}} {
		if n := ceilDiv(d, u.unit); n < maxDigits {
			return strconv.FormatInt(n, 10) + string(u.name)
		}
	}
	return strconv.FormatInt(ceilDiv(d, time.Hour), 10) + "H"
}

// ceilDiv is d/unit rounded up, without overflowing near the largest d.
func ceilDiv(d, unit time.Duration) int64 {
	n := d / unit
	if d%unit != 0 {
		n++
	}
	return int64(n)
}
