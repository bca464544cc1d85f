package health

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TCP checks that a TCP connection to the address opens.
func TCP() NewChecker {
	return func(addr string) (Checker, error) { return tcpChecker{addr: addr}, nil }
}

type tcpChecker struct{ addr string }

// Check dials and hangs up.
func (t tcpChecker) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return fmt.Errorf("health tcp %s: %w", t.addr, err)
	}
	return conn.Close()
}

// Close has nothing to release.
func (tcpChecker) Close() error { return nil }

// GRPC asks grpc.health.v1 Check about service ("" for the whole server)
// over one connection per address; anything but SERVING fails. Without
// opts the connection is plaintext.
func GRPC(service string, opts ...grpc.DialOption) NewChecker {
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return func(addr string) (Checker, error) {
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			return nil, fmt.Errorf("health grpc %s: %w", addr, err)
		}
		return grpcChecker{cc: cc, client: healthpb.NewHealthClient(cc), service: service, addr: addr}, nil
	}
}

type grpcChecker struct {
	cc      *grpc.ClientConn
	client  healthpb.HealthClient
	service string
	addr    string
}

// Check asks grpc.health.v1 once.
func (g grpcChecker) Check(ctx context.Context) error {
	resp, err := g.client.Check(ctx, &healthpb.HealthCheckRequest{Service: g.service})
	if err != nil {
		return fmt.Errorf("health grpc %s: %w", g.addr, err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health grpc %s: %s", g.addr, s)
	}
	return nil
}

// Close closes the connection.
func (g grpcChecker) Close() error { return g.cc.Close() }
