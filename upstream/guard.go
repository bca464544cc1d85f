package upstream

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// State says how fresh a cluster's set is.
type State int

const (
	// NeverSynced: no set has been learned yet.
	NeverSynced State = iota
	// Synced: the set is what the registry last reported.
	Synced
	// Stale: the registry is failing; the last good set is kept.
	Stale
)

// String returns the state's name as shown on the status page and in logs.
func (s State) String() string {
	switch s {
	case Synced:
		return "synced"
	case Stale:
		return "stale"
	default:
		return "never_synced"
	}
}

// Snapshot is the set a Guard currently serves, with its freshness.
type Snapshot struct {
	Cluster   string
	Endpoints []Endpoint
	State     State
	// LastSync is when a registry last reported a set (zero if never).
	LastSync time.Time
	// LastErr is the latest registry error while Stale.
	LastErr error
}

// Guard sits between a Source and its subscribers. It applies every set a
// healthy Source reports, removals included, and on an error keeps the
// last good set and only marks it stale. Safe for concurrent use.
type Guard struct {
	cluster string
	src     Source
	log     *slog.Logger
	now     func() time.Time
	saved   *SavedSets

	// pubMu orders deliveries: it is held from a change until every
	// subscriber has seen it, so no subscriber sees sets out of order.
	pubMu  sync.Mutex
	mu     sync.Mutex
	snap   Snapshot
	subs   map[int]func(Snapshot)
	nextID int
	ready  chan struct{}
}

// NewGuard returns a Guard for the named cluster's Source.
func NewGuard(cluster string, src Source, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.Default()
	}
	return &Guard{
		cluster: cluster,
		src:     src,
		log:     log.With("cluster", cluster),
		now:     time.Now,
		snap:    Snapshot{Cluster: cluster},
		subs:    map[int]func(Snapshot){},
		ready:   make(chan struct{}),
	}
}

// WithSavedSets makes the Guard save every synced set to s, and serve the
// saved set (marked Stale) when the Source's first report is an error.
// Call it before Run.
func (g *Guard) WithSavedSets(s *SavedSets) *Guard {
	g.saved = s
	return g
}

// Run drives the Source until ctx is done.
func (g *Guard) Run(ctx context.Context) {
	g.src.Run(ctx, g.apply)
}

func (g *Guard) apply(u Update) {
	g.pubMu.Lock()
	defer g.pubMu.Unlock()
	g.mu.Lock()
	if u.Err != nil {
		if g.snap.State == NeverSynced {
			g.loadSavedLocked()
		}
		g.markStaleLocked(u.Err)
		return
	}
	eps := Normalize(u.Endpoints)
	changed := !slices.EqualFunc(eps, g.snap.Endpoints, sameEndpoint)
	wasSynced := g.snap.State == Synced
	g.snap.Endpoints = eps
	g.snap.State = Synced
	g.snap.LastSync = g.now()
	g.snap.LastErr = nil
	if !wasSynced {
		g.log.Info("source synced", "endpoints", len(eps))
	}
	if len(eps) == 0 && changed {
		g.log.Warn("registry reports an empty set; applying it")
	}
	if !changed && wasSynced {
		g.mu.Unlock()
		return
	}
	if g.saved != nil {
		if err := g.saved.Save(g.cluster, eps); err != nil {
			g.log.Warn("cannot save last good set", "err", err)
		}
	}
	g.publishLocked()
}

// sameEndpoint compares metadata too, so a registration that changes only
// its metadata still reaches subscribers.
func sameEndpoint(a, b Endpoint) bool {
	return a.Addr == b.Addr && maps.Equal(a.Metadata, b.Metadata)
}

// loadSavedLocked serves the saved set, if any, while the Source has never
// answered: the registry is down at start-up.
func (g *Guard) loadSavedLocked() {
	if g.saved == nil {
		return
	}
	eps, err := g.saved.Load(g.cluster)
	if err != nil {
		g.log.Warn("cannot load saved set", "err", err)
		return
	}
	if eps == nil {
		return
	}
	g.snap.Endpoints = Normalize(eps)
	g.snap.State = Stale
	g.log.Info("registry unreachable at start; serving saved set", "endpoints", len(eps))
}

func (g *Guard) markStaleLocked(err error) {
	wasStale := g.snap.State == Stale && g.snap.LastErr != nil
	g.snap.LastErr = err
	if g.snap.State == Synced {
		g.snap.State = Stale
	}
	if !wasStale {
		g.log.Warn("source failing; keeping last good set", "endpoints", len(g.snap.Endpoints), "err", err)
	}
	g.publishLocked()
}

// publishLocked unlocks g.mu and notifies subscribers with a copy, so they
// may read the Guard. The caller holds g.pubMu.
func (g *Guard) publishLocked() {
	snap := g.copyLocked()
	subs := make([]func(Snapshot), 0, len(g.subs))
	for _, fn := range g.subs {
		subs = append(subs, fn)
	}
	g.mu.Unlock()
	for _, fn := range subs {
		fn(snap)
	}
	// Ready only once every subscriber has the set, so a caller that
	// waited for it finds the balancers filled.
	if snap.State != NeverSynced || snap.LastErr != nil {
		select {
		case <-g.ready:
		default:
			close(g.ready)
		}
	}
}

func (g *Guard) copyLocked() Snapshot {
	s := g.snap
	s.Endpoints = slices.Clone(s.Endpoints)
	return s
}

// Snapshot returns the current set.
func (g *Guard) Snapshot() Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.copyLocked()
}

// Ready is closed once the Source has reported for the first time: a set,
// or an error (with or without a saved set to serve).
func (g *Guard) Ready() <-chan struct{} { return g.ready }

// Subscribe calls fn with the current set and then on every change, until
// the returned cancel is called. fn must not block for long.
func (g *Guard) Subscribe(fn func(Snapshot)) (cancel func()) {
	g.pubMu.Lock()
	defer g.pubMu.Unlock()
	g.mu.Lock()
	id := g.nextID
	g.nextID++
	g.subs[id] = fn
	snap := g.copyLocked()
	g.mu.Unlock()
	fn(snap)
	return func() {
		g.mu.Lock()
		delete(g.subs, id)
		g.mu.Unlock()
	}
}
