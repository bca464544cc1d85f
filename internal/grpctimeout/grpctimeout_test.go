package grpctimeout

import (
	"math"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in string
		d  time.Duration
		ok bool
	}{
		{"1S", time.Second, true},
		{"100m", 100 * time.Millisecond, true},
		{"99999999u", 99999999 * time.Microsecond, true},
		{"5n", 5, true},
		{"2M", 2 * time.Minute, true},
		{"3H", 3 * time.Hour, true},
		{"99999999H", math.MaxInt64, true},
		{"0m", 0, true},
		{"", 0, false},
		{"S", 0, false},
		{"10", 0, false},
		{"10s", 0, false},
		{"-1S", 0, false},
		{"123456789S", 0, false},
		{"1 S", 0, false},
	} {
		d, ok := Parse(c.in)
		if d != c.d || ok != c.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", c.in, d, ok, c.d, c.ok)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		d   time.Duration
		out string
	}{
		{-time.Second, "0n"},
		{0, "0n"},
		{1500 * time.Nanosecond, "1500n"},
		{time.Second, "1000000u"},
		{99999999, "99999999n"},
		{100000000, "100000u"},
		{100000001, "100001u"}, // rounded up, never earlier
		{time.Hour, "3600000m"},
		{30 * 24 * time.Hour, "2592000S"},
		{math.MaxInt64, "2562048H"},
	} {
		if got := Format(c.d); got != c.out {
			t.Errorf("Format(%v) = %q, want %q", c.d, got, c.out)
		}
		if d, ok := Parse(Format(c.d)); !ok || (c.d > 0 && d < c.d) {
			t.Errorf("Parse(Format(%v)) = %v, %v: earlier than given", c.d, d, ok)
		}
	}
}
