// Command h2spec-target serves the relay on a loopback h2c port for
// HTTP/2 conformance runs with h2spec. Behind it is a plain HTTP/2
// backend that reads each request body and answers with a body, so that
// h2spec's checks exercise the relay rather than a gRPC server's
// answers to non-gRPC requests. The backend takes -latency per request,
// so that streams are still open when h2spec tests the concurrency
// limit (otherwise the verdict depends on timing).
//
//	h2spec-target -addr 127.0.0.1:18443 &
//	h2spec -h 127.0.0.1 -p 18443 -o 2
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18443", "relay listen address (loopback)")
	latency := flag.Duration("latency", 50*time.Millisecond, "backend time per request")
	flag.Parse()
	if err := run(*addr, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "h2spec-target:", err)
		os.Exit(1)
	}
}

func run(addr string, latency time.Duration) error {
	blis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	backend := &http.Server{Handler: h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "hello from the h2spec backend\n")
	}), &http2.Server{})}
	go backend.Serve(blis)
	defer backend.Close()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	guard := upstream.NewGuard("c", static.New([]string{blis.Addr().String()}), slog.New(slog.DiscardHandler))
	go guard.Run(ctx)
	<-guard.Ready()
	rr, stop := h2relay.NewRoundRobin(guard)
	defer stop()
	srv := h2relay.NewServer(proxy.NewRouter("c"), map[string]h2relay.Balancer{"c": rr}, h2relay.Options{})
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	go srv.Serve(lis)
	fmt.Println("relay on", lis.Addr())
	<-ctx.Done()
	srv.Stop()
	return nil
}
