package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/gateway"
	"github.com/straitproxy/strait/metrics"
)

// adminServer is the admin HTTP server and the metrics it exports; both
// are nil when the config has no admin address.
type adminServer struct {
	srv     *admin.Server
	metrics *metrics.Metrics
	done    chan struct{}
}

// startAdmin binds the admin server and installs the gRPC metrics on gw.
// Call it before gw.Start.
func startAdmin(cfg config.Admin, gw *gateway.Gateway, log *slog.Logger) (*adminServer, error) {
	a := &adminServer{}
	if cfg.Address == "" {
		return a, nil
	}
	a.srv = admin.New(admin.Options{
		Addr:            cfg.Address,
		Ready:           gw.Ready,
		Status:          admin.StatusFunc(gw.Status),
		Ejections:       gw,
		HistoryInterval: cfg.HistoryInterval,
		Pprof:           cfg.Pprof,
		Version:         version,
		Logger:          log,
	})
	m, err := metrics.New(a.srv.Registry(), gw.Route)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	a.metrics = m
	gw.SetMetrics(m, a.srv.Registry())
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(lis); err != nil {
			log.Error("admin server stopped", "err", err)
		}
	}()
	log.Info("admin listening", "address", lis.Addr().String())
	return a, nil
}

func (a *adminServer) routesChanged() {
	if a.metrics != nil {
		a.metrics.RoutesChanged()
	}
}

func (a *adminServer) stop() {
	if a.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	<-a.done
}
