// Command strait is an edge proxy for gRPC with discovery-driven load
// balancing.
//
//	strait [serve] -config FILE   run the proxy (the default)
//	strait check -config FILE     check a configuration file and summarise it
//	strait register …             register a service in etcd (a sidecar)
//	strait version                print the version
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/straitproxy/strait/internal/procs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultGCPercent trades memory for CPU: a proxy's heap is small and
// short-lived, and GOGC=400 measured 15-17 % less CPU per relayed call
// than the default 100 (docs/design.md, Performance decisions). GOGC in
// the environment wins.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	if os.Getenv("GOMAXPROCS") == "" {
		go followLoad(ctx)
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// followLoad sizes GOMAXPROCS to the load, between one and what Go
// chose at start (the CPUs available to the process, a container's CPU
// limit included). GOMAXPROCS in the environment wins and fixes the
// count. Setting it stops Go's own updates when a container's CPU limit
// changes: the limit at start stays the cap.
func followLoad(ctx context.Context) {
	o := procs.Defaults
	o.Max = runtime.GOMAXPROCS(0)
	procs.Run(ctx, o, procs.ProcessCPU, func(n int) {
		if runtime.GOMAXPROCS(n) != n {
			slog.Debug("GOMAXPROCS follows the load", "procs", n)
		}
	})
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveMain(ctx, args, stdout, stderr)
	case "check":
		return checkMain(args, stdout, stderr)
	case "register":
		return registerMain(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "strait", version)
		return 0
	default:
		fmt.Fprintf(stderr, "strait: unknown command %q (serve, check, register, version)\n", cmd)
		return 2
	}
}
