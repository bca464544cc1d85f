package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/straitproxy/strait/registry"
)

// healthGate registers the backend while it reports SERVING: at the first
// SERVING answer, off after --health-failures failed checks in a row, and
// on again when it recovers. It returns 0 when ctx ends.
func healthGate(ctx context.Context, f *registerFlags, reg func() (*registry.Registrar, error), log *slog.Logger, stderr io.Writer) int {
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(stderr, "strait register: --addr:", err)
		return 2
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	var r *registry.Registrar
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	failed := 0
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for {
		if err := check(ctx, client, f.service, f.interval); err != nil {
			failed++
			log.Debug("health check failed", "addr", f.addr, "failed", failed, "err", err)
			if r != nil && failed >= f.failures {
				log.Warn("backend not serving; deregistering", "addr", f.addr, "failed", failed, "err", err)
				r.Close()
				r = nil
			}
		} else {
			failed = 0
			if r == nil {
				log.Info("backend serving; registering", "addr", f.addr)
				if r, err = reg(); err != nil {
					fmt.Fprintln(stderr, "strait register:", err)
					return 2
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

// check asks the backend for its health, within timeout.
func check(ctx context.Context, client healthpb.HealthClient, service string, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.Check(cctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return err
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("status %v", s)
	}
	return nil
}
