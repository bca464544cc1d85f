package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/gateway"
	"github.com/straitproxy/strait/internal/gcheadroom"
	"k8s.io/klog/v2"
)

// serveMain runs the proxy until ctx ends, then drains.
func serveMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "strait.yaml", "configuration file")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "strait:", err)
		return 2
	}
	// Packages that log through the default logger (the balancers that
	// grpc-go builds) and client-go's klog write to strait's log.
	slog.SetDefault(log)
	klog.SetSlogLogger(log)
	cfg, err := config.LoadFile(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer gcheadroom.Start(int64(cfg.Limits.GCHeadroom))()
	}
	gw, err := gateway.New(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "strait:", err)
		return 1
	}
	adm, err := startAdmin(cfg.Admin, gw, log)
	if err != nil {
		gw.Stop()
		fmt.Fprintln(stderr, "strait:", err)
		return 1
	}
	if err := gw.Start(ctx); err != nil {
		adm.stop()
		fmt.Fprintln(stderr, "strait:", err)
		return 1
	}
	waitForStop(ctx, log, gw, adm, *path)
	cfg = gw.Config()
	log.Info("draining", "timeout", cfg.Timeouts.Drain.String())
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.Timeouts.Drain)
	defer cancel()
	gw.Shutdown(drainCtx)
	adm.stop()
	log.Info("stopped")
	return 0
}

// waitForStop reloads the configuration on SIGHUP until ctx ends, and
// reopens the access log files (after a rotation). A bad file is refused
// with the same message as at start-up; the running configuration keeps
// serving.
func waitForStop(ctx context.Context, log *slog.Logger, gw *gateway.Gateway, adm *adminServer, path string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			gw.ReopenAccessLogs()
			if err := reload(gw, path); err != nil {
				log.Error("reload refused; the running configuration keeps serving", "err", err.Error())
				continue
			}
			adm.routesChanged()
		}
	}
}

func reload(gw *gateway.Gateway, path string) error {
	cfg, err := config.LoadFile(path)
	if err != nil {
		return err
	}
	return gw.Reload(cfg)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("-log-format: %q is not text or json", format)
	}
}
