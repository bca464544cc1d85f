package lb

import (
	"sync"
	"time"
)

// Kinds of Event.
const (
	// EventBreakerOpen: the endpoint's breaker opened (an ejection or a
	// re-ejection after a failed probe).
	EventBreakerOpen = "breaker_open"
	// EventHealthDrain: an active health check reported the endpoint not
	// serving, so it takes no new calls.
	EventHealthDrain = "health_drain"
)

// Event is an endpoint leaving rotation, reported as it happens so that
// a history can place it exactly instead of guessing between samples.
type Event struct {
	// Pool is the name the pool was built for.
	Pool string
	Addr string
	// Kind is EventBreakerOpen or EventHealthDrain.
	Kind string
	At   time.Time
}

// WithEvents makes the pool report ejections to fn. fn runs under the
// pool's and the breaker's locks: it must be quick and must not call
// back into the pool.
func WithEvents(fn func(Event)) PoolOption { return func(p *Pool) { p.events = fn } }

// emit reports an event if anyone listens.
func (p *Pool) emit(addr, kind string) {
	if p.events != nil {
		p.events(Event{Pool: p.cluster, Addr: addr, Kind: kind, At: p.clock()})
	}
}

// listeners fans a registry's events out to its subscribers.
type listeners struct {
	mu   sync.RWMutex
	next int
	fns  map[int]func(Event)
}

// Subscribe calls fn with every event of every pool the registry builds
// from now on, until the returned cancel is called. fn runs under pool
// locks (see WithEvents).
func (r *Registry) Subscribe(fn func(Event)) (cancel func()) {
	l := &r.listeners
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fns == nil {
		l.fns = make(map[int]func(Event))
	}
	id := l.next
	l.next++
	l.fns[id] = fn
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.fns, id)
	}
}

// publish hands ev to every subscriber.
func (r *Registry) publish(ev Event) {
	r.listeners.mu.RLock()
	defer r.listeners.mu.RUnlock()
	for _, fn := range r.listeners.fns {
		fn(ev)
	}
}
