package etcd

import (
	"context"
	"errors"
	"fmt"
	"github.com/straitproxy/strait/internal/ctxwait"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/straitproxy/strait/upstream"
)

// Source watches one cluster's registrations in etcd. It lists Key/, then
// watches from the listing's revision + 1 (nothing falls between), and on
// any failure reports the error (the Guard freezes the set), backs off and
// lists again. Create it with New; Run it once.
type Source struct {
	cfg        clientv3.Config
	prefix     string
	timeout    time.Duration
	log        *slog.Logger
	probeEvery time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	wipeGrace  time.Duration
	skipped    atomic.Uint64
	// beforeWatch, when set by a test, runs between the listing and the
	// watch, so a test can compact the revisions the watch starts from.
	beforeWatch func()
}

var (
	_ upstream.Source      = (*Source)(nil)
	_ upstream.SkipCounter = (*Source)(nil)
)

// SkippedValues is how many unparsable registrations were skipped, each
// counted once when first seen under its key.
func (s *Source) SkippedValues() uint64 { return s.skipped.Load() }

// Option tunes a Source.
type Option func(*Source)

// WithProbeInterval sets how often a watching Source checks that etcd still
// answers (default 1s). A watch alone does not notice an etcd that went
// away: etcd's client waits for it to come back without saying so.
func WithProbeInterval(d time.Duration) Option { return func(s *Source) { s.probeEvery = d } }

// WithBackoff sets the bounds of the jittered exponential back-off between
// attempts (default 100ms to 3s).
func WithBackoff(min, max time.Duration) Option {
	return func(s *Source) { s.minBackoff, s.maxBackoff = min, max }
}

// WithWipeGrace sets how long the previous set is kept after etcd comes
// back with older data (wiped, or restored from a backup) while instances
// register again (default 15s; 0 applies etcd's answer at once).
func WithWipeGrace(d time.Duration) Option { return func(s *Source) { s.wipeGrace = d } }

// New returns a Source for cfg, logging to log (which should name the
// cluster). It does not contact etcd: Run does, so an unreachable etcd
// never blocks start-up. It fails only on a bad cfg.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Source, error) {
	ccfg, err := cfg.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Source{
		cfg:        ccfg,
		prefix:     cfg.Key + "/",
		timeout:    cfg.timeout(),
		log:        log,
		probeEvery: time.Second,
		minBackoff: 100 * time.Millisecond,
		maxBackoff: 3 * time.Second,
		wipeGrace:  DefaultWipeGrace,
	}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("source", "etcd", "prefix", s.prefix)
	return s, nil
}

// Run reports the set under the prefix, and every change, until ctx is
// done. The first report comes within the dial timeout: the set, or the
// error that etcd could not be reached.
func (s *Source) Run(ctx context.Context, emit func(upstream.Update)) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = s.minBackoff, s.maxBackoff
	cli := s.connect(ctx, b, emit)
	if cli == nil {
		return
	}
	defer cli.Close()
	r := &runner{Source: s, cli: cli, ks: newKeyset(s.log, func() { s.skipped.Add(1) }), hold: &wipeHold{grace: s.wipeGrace}, emit: emit}
	defer r.hold.stop()
	failing := false
	for ctx.Err() == nil {
		synced, err := r.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if synced {
			b.Reset()
			failing = false
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			s.log.Info("watch revision compacted; listing again")
			continue
		}
		// Warn once per outage; the retries that follow are debug noise.
		level := slog.LevelWarn
		if failing {
			level = slog.LevelDebug
		}
		failing = true
		s.log.Log(ctx, level, "etcd failing; will list again", "err", err)
		emit(upstream.Update{Err: err})
		if !ctxwait.Sleep(ctx, b.NextBackOff()) {
			return
		}
	}
}

// connect creates the client, retrying while it fails (it only can with
// user/pass, whose authentication needs etcd to answer).
func (s *Source) connect(ctx context.Context, b backoff.BackOff, emit func(upstream.Update)) *clientv3.Client {
	for {
		cfg := s.cfg
		cfg.Context = ctx
		cli, err := clientv3.New(cfg)
		if err == nil {
			return cli
		}
		if ctx.Err() != nil {
			return nil
		}
		err = fmt.Errorf("etcd connect %v: %w", s.cfg.Endpoints, err)
		s.log.Warn("cannot connect to etcd", "err", err)
		emit(upstream.Update{Err: err})
		if !ctxwait.Sleep(ctx, b.NextBackOff()) {
			return nil
		}
	}
}
