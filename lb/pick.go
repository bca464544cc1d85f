package lb

// Set is an immutable list of a pool's members, built by Pool.Update. Its
// Pick takes no lock and allocates nothing: per-call state lives in the
// endpoints' atomics.
type Set struct {
	pool *Pool
	eps  []*Endpoint
}

// Len is the number of endpoints in the set.
func (s *Set) Len() int { return len(s.eps) }

// Endpoint returns the i-th endpoint, in the order given to Update.
func (s *Set) Endpoint(i int) *Endpoint { return s.eps[i] }

// Pick chooses an endpoint by the power of two choices: two distinct
// random candidates among those that may take traffic, the lower load
// (see Endpoint.load) wins, ties going to either at random. With
// two endpoints both are compared, with one it is the answer. When every candidate drawn is ejected it scans
// for any available endpoint and, failing that, fails open. ok is false
// only for an empty set.
func (s *Set) Pick() (*Endpoint, bool) {
	i, ok := s.PickIndex()
	if !ok {
		return nil, false
	}
	return s.eps[i], true
}

// PickIndex is Pick returning the endpoint's index in the set.
func (s *Set) PickIndex() (int, bool) { return s.pickIndexAt(s.pool.nanos()) }

// pickIndexAt is PickIndex at the pool time now.
func (s *Set) pickIndexAt(now int64) (int, bool) {
	n := len(s.eps)
	switch n {
	case 0:
		return 0, false
	case 1:
		return 0, true
	}
	p := s.pool
	panicking := p.panicking.Load()
	share := s.share()
	if n == 2 {
		// A random order breaks ties, so two equally loaded endpoints
		// share the traffic even one call at a time.
		i := int(p.rnd() % 2)
		if k, ok := s.better(i, 1-i, now, share, panicking); ok {
			return k, true
		}
		return i, true
	}
	for range 3 {
		r := p.rnd()
		i := int(r % uint64(n))
		j := int((r >> 32) % uint64(n-1))
		if j >= i {
			j++
		}
		if k, ok := s.better(i, j, now, share, panicking); ok {
			return k, true
		}
	}
	return s.scan(int(p.rnd()%uint64(n)), panicking), true
}

// better returns the available one of i and j with the lower load.
func (s *Set) better(i, j int, now int64, share float64, panicking bool) (int, bool) {
	a, b := s.eps[i], s.eps[j]
	aok, bok := a.available(panicking), b.available(panicking)
	switch {
	case aok && bok:
		if b.load(now, share) < a.load(now, share) {
			return j, true
		}
		return i, true
	case aok:
		return i, true
	case bok:
		return j, true
	}
	return 0, false
}

// shareWeight scales the per-member in-flight count into the offset of
// an endpoint's in-flight count in its load. Measured in the simulator
// (lb/sim) against 0 (plain estimate × (in-flight + 1), as tower and Finagle weigh it), 1, 1.5 and 4:
// 2 is the lowest that keeps a 10× slower node under 1 % with shared
// queueing and a saturating node within 2× of its unloaded latency at high
// concurrency, and the highest before a node whose latency climbs with its
// load is pushed past 2× by latency noise at low concurrency.
const shareWeight = 2

// share is what an endpoint's in-flight count is offset by in its load:
// twice the calls in flight per member, at least 1. With the offset the
// in-flight count weighs relative to the pool's concurrency, not in
// absolute terms: at 50 calls in flight per node one more call makes a
// node 1/150 costlier, not 1/51 (see Endpoint.load).
func (s *Set) share() float64 {
	return max(1, shareWeight*float64(s.pool.inflight.Load())/float64(len(s.eps)))
}

// scan walks the set from start for an available endpoint; when there is
// none it fails open with start. Only reached when most of the set is
// ejected and panic mode has not (yet) kicked in.
func (s *Set) scan(start int, panicking bool) int {
	n := len(s.eps)
	for k := range n {
		if i := (start + k) % n; s.eps[i].available(panicking) {
			return i
		}
	}
	return start
}

// pickAvoidingAt is the power of two choices among the available
// endpoints that avoid does not name. Retries alone take this path, so
// it may walk the whole set.
func (s *Set) pickAvoidingAt(now int64, avoid func(addr string) bool) (int, bool) {
	panicking := s.pool.panicking.Load()
	// Two distinct candidates drawn uniformly by reservoir sampling.
	a, b, n := -1, -1, 0
	for i, e := range s.eps {
		if avoid(e.addr) || !e.available(panicking) {
			continue
		}
		n++
		switch {
		case n == 1:
			a = i
		case n == 2:
			b = i
		default:
			if k := s.pool.rnd() % uint64(n); k < 2 {
				if k == 0 {
					a = i
				} else {
					b = i
				}
			}
		}
	}
	switch {
	case a < 0:
		return 0, false
	case b < 0:
		return a, true
	}
	if s.pool.rnd()%2 == 0 {
		a, b = b, a // ties go either way
	}
	if share := s.share(); s.eps[b].load(now, share) < s.eps[a].load(now, share) {
		return b, true
	}
	return a, true
}
