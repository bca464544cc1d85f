// Package admin is strait's operator surface: liveness and readiness
// probes, Prometheus metrics, a live status page with its JSON and the
// last minutes' history, and optionally pprof. It binds to loopback by default because it exposes
// internals; it never serves proxied traffic.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultAddr is where the admin server listens unless told otherwise.
const DefaultAddr = "127.0.0.1:9901"

// Options configure a Server. The zero value serves probes, metrics and
// an empty status page on DefaultAddr.
type Options struct {
	// Addr is the listen address for ListenAndServe; empty means
	// DefaultAddr.
	Addr string
	// Ready reports why the process cannot take traffic yet, or nil when
	// it can. Nil means always ready. Called on every /readyz request.
	Ready func() error
	// Status feeds /status, /status.json and the scrape-time metrics.
	// Nil shows no clusters.
	Status StatusSource
	// Pprof serves /debug/pprof/ when true.
	Pprof bool
	// Version is reported in strait_build_info.
	Version string
	// Logger receives serve errors; nil means slog.Default().
	Logger *slog.Logger
	// ShareWindow is how far back traffic shares reach; 0 means 10 s.
	ShareWindow time.Duration
	// HistoryInterval is how often /history.json gets a point; 0 means
	// DefaultHistoryInterval. It keeps historyPoints points per series,
	// so the charts span historyPoints × HistoryInterval.
	HistoryInterval time.Duration
	// Ejections marks ejections on the history as they happen. Nil
	// leaves the charts without marks.
	Ejections EjectionSource
}

// Server is the admin HTTP server. Its methods are safe for concurrent
// use.
type Server struct {
	opts    Options
	reg     *prometheus.Registry
	traffic *traffic
	history *history
	http    *http.Server
	now     func() time.Time
}

// New builds a Server with its own Prometheus registry, already holding
// the build info, Go runtime and process collectors and the scrape-time
// cluster collector. It does not listen until Serve or ListenAndServe.
func New(opts Options) *Server {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Status == nil {
		opts.Status = StatusFunc(func() Status { return Status{} })
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ShareWindow <= 0 {
		opts.ShareWindow = 10 * time.Second
	}
	if opts.HistoryInterval <= 0 {
		opts.HistoryInterval = DefaultHistoryInterval
	}
	s := &Server{
		opts:    opts,
		reg:     newRegistry(opts.Version, opts.Status),
		traffic: &traffic{window: opts.ShareWindow},
		history: newHistory(opts.HistoryInterval),
		now:     time.Now,
	}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Registry is the server's Prometheus registry: register the data
// path's collectors here so that /metrics shows them.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Serve answers on lis until Shutdown, sampling the history meanwhile.
// It returns nil after Shutdown, once the sampler has stopped.
func (s *Server) Serve(lis net.Listener) error {
	stop := s.startSampler()
	defer stop()
	err := s.http.Serve(lis)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("admin %s: %w", lis.Addr(), err)
}

// ListenAndServe listens on Options.Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	lis, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	return s.Serve(lis)
}

// Shutdown stops accepting and waits for open requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("admin shutdown: %w", err)
	}
	return nil
}
