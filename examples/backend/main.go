// Command demo-backend (`make build` writes bin/demo-backend) serves the
// demo gRPC backend on a loopback address: helloworld.Greeter,
// grpc.testing.TestService, health and reflection, with knobs for latency
// and failures. It serves the same backend the tests use as their fixture,
// internal/testutil/backend.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/straitproxy/strait/internal/testutil/backend"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:10000", "address to listen on")
	name := flag.String("name", "", "name used in replies (default: the address)")
	latency := flag.Duration("latency", 0, "latency added to every call")
	failEvery := flag.Uint64("fail-every", 0, "fail one call in N (0: never)")
	failCode := flag.String("fail-code", "unavailable", "gRPC code of induced failures")
	flag.Parse()
	if *name == "" {
		*name = *addr
	}
	code, ok := backend.CodeByName(*failCode)
	if !ok {
		fmt.Fprintf(os.Stderr, "demo-backend: -fail-code: unknown gRPC code %q\n", *failCode)
		os.Exit(2)
	}
	s, err := backend.Start(*addr, *name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-backend:", err)
		os.Exit(1)
	}
	s.SetLatency(*latency)
	s.SetFailure(*failEvery, code)
	slog.Info("demo backend serving", "addr", s.Addr(), "name", *name, "latency", latency.String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stopped := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		s.Stop()
	}
}
