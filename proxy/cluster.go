package proxy

import (
	"fmt"
	"time"

	"github.com/straitproxy/strait/upstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// ClusterOptions shape the connection to one cluster.
type ClusterOptions struct {
	// MaxMessageSize bounds messages either way.
	MaxMessageSize int
	// ConnectTimeout bounds each dial to an endpoint.
	ConnectTimeout time.Duration
	// ServiceConfig is the grpc service config JSON (balancer choice).
	// Empty selects round_robin.
	ServiceConfig string
}

const defaultServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// Cluster is one upstream set behind one grpc.ClientConn. grpc-go owns the
// connections, reconnect back-off and keep-alive; the balancer named in
// the service config owns the choice of endpoint per call.
type Cluster struct {
	Name  string
	Guard *upstream.Guard
	conn  *grpc.ClientConn
}

// NewCluster connects lazily to the endpoints that guard reports.
func NewCluster(name string, guard *upstream.Guard, opts ClusterOptions) (*Cluster, error) {
	sc := opts.ServiceConfig
	if sc == "" {
		sc = defaultServiceConfig
	}
	bo := backoff.DefaultConfig
	bo.MaxDelay = 5 * time.Second
	conn, err := grpc.NewClient(scheme+":///"+name,
		grpc.WithResolvers(guardResolver{guard: guard}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: opts.ConnectTimeout}),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(opts.MaxMessageSize),
			grpc.MaxCallSendMsgSize(opts.MaxMessageSize),
		),
		grpc.WithSharedWriteBuffer(true),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	conn.Connect()
	return &Cluster{Name: name, Guard: guard, conn: conn}, nil
}

// Close closes the cluster's connections.
func (c *Cluster) Close() error { return c.conn.Close() }
