package h2relay

import "time"

// bucket is a token bucket owned by one reader goroutine.
type bucket struct {
	r      Rate
	tokens float64
	last   time.Time
}

func newBucket(r Rate) bucket { return bucket{r: r, tokens: r.Burst, last: time.Now()} }

// take spends one token; false means the limit is exceeded.
func (b *bucket) take() bool {
	now := time.Now()
	b.tokens = min(b.r.Burst, b.tokens+now.Sub(b.last).Seconds()*b.r.PerSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
