// Command baseline is the comparison point for strait's benchmarks: a
// transparent gRPC proxy built on github.com/mwitkow/grpc-proxy's
// TransparentHandler (the 2018 release the module proxy resolves as
// latest), in front of the same backends, with the same grpc-go version
// and the same round_robin balancing as strait. It lives in its own
// module so that grpc-proxy's old dependencies stay out of strait's.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mwitkow/grpc-proxy/proxy"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9100", "address to listen on")
	backends := flag.String("backends", "127.0.0.1:10000", "comma-separated backend addresses")
	flag.Parse()
	if err := run(*listen, strings.Split(*backends, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(listen string, backends []string) error {
	conn, err := dial(backends)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The director forwards the client's metadata, as grpc-proxy's own
	// example does; the handler itself forwards none.
	director := func(ctx context.Context, _ string) (context.Context, *grpc.ClientConn, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		return metadata.NewOutgoingContext(ctx, md.Copy()), conn, nil
	}
	//nolint:staticcheck // grpc-proxy's 2018 handler only works with the deprecated CustomCodec.
	srv := grpc.NewServer(grpc.CustomCodec(proxy.Codec()), grpc.UnknownServiceHandler(proxy.TransparentHandler(director)))
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Stop()
	}()
	slog.Info("baseline proxy serving", "addr", lis.Addr().String(), "backends", backends)
	return srv.Serve(lis)
}

// dial opens one round_robin ClientConn over all backends, as strait does
// per cluster.
func dial(backends []string) (*grpc.ClientConn, error) {
	r := manual.NewBuilderWithScheme("baseline")
	addrs := make([]resolver.Address, len(backends))
	for i, b := range backends {
		addrs[i] = resolver.Address{Addr: b}
	}
	r.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient("baseline:///backends",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		//nolint:staticcheck // the handler's frames need grpc-proxy's codec on the client side too.
		grpc.WithDefaultCallOptions(grpc.CallCustomCodec(proxy.Codec())),
	)
	if err != nil {
		return nil, fmt.Errorf("dial backends: %w", err)
	}
	return conn, nil
}
