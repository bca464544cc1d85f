package admin

// ring keeps the last cap values pushed, in a buffer allocated once, so
// that a history's memory does not grow with uptime.
type ring[T any] struct {
	buf  []T
	next int  // where the next push goes
	full bool // buf holds cap values; next is also the oldest
}

func newRing[T any](capacity int) *ring[T] {
	return &ring[T]{buf: make([]T, capacity)}
}

// push adds v, overwriting the oldest value once the ring is full.
func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// len is how many values the ring holds.
func (r *ring[T]) len() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}

// items returns a copy of the values, oldest first.
func (r *ring[T]) items() []T {
	out := make([]T, 0, r.len())
	if r.full {
		out = append(out, r.buf[r.next:]...)
	}
	return append(out, r.buf[:r.next]...)
}
