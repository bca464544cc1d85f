package admin

import (
	"slices"
	"testing"
)

func TestRingKeepsOrderAndWraps(t *testing.T) {
	r := newRing[int](3)
	if got := r.items(); len(got) != 0 || r.len() != 0 {
		t.Fatalf("empty ring holds %v", got)
	}
	r.push(1)
	r.push(2)
	if got := r.items(); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("before wrapping: %v, want [1 2]", got)
	}
	r.push(3)
	if got := r.items(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("full: %v, want [1 2 3]", got)
	}
	r.push(4)
	r.push(5)
	if got := r.items(); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("wrapped: %v, want the newest three oldest first, [3 4 5]", got)
	}
}

func TestRingIsBounded(t *testing.T) {
	r := newRing[int](180)
	for i := range 10_000 {
		r.push(i)
		if r.len() > 180 || cap(r.buf) != 180 {
			t.Fatalf("after %d pushes: len %d, buffer %d, want at most 180", i+1, r.len(), cap(r.buf))
		}
	}
	got := r.items()
	if len(got) != 180 || got[0] != 10_000-180 || got[179] != 9_999 {
		t.Fatalf("holds %d values from %d to %d, want the last 180", len(got), got[0], got[len(got)-1])
	}
}

func TestRingItemsIsACopy(t *testing.T) {
	r := newRing[int](2)
	r.push(1)
	got := r.items()
	got[0] = 42
	if r.items()[0] != 1 {
		t.Fatal("changing what items returned changed the ring")
	}
}
