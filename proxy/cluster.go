package proxy

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/straitproxy/strait/upstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// ClusterOptions shape the connection to one cluster.
type ClusterOptions struct {
	// MaxMessageSize bounds messages either way.
	MaxMessageSize int
	// ConnectTimeout bounds each dial to an endpoint.
	ConnectTimeout time.Duration
	// ServiceConfig is the grpc service config JSON (balancer choice,
	// from lb.ServiceConfig). Empty selects round_robin.
	ServiceConfig string
	// TLS, when set, dials endpoints over TLS.
	TLS *tls.Config
}

const defaultServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// Cluster is one upstream set behind one grpc.ClientConn. grpc-go owns the
// connections, reconnect back-off and keep-alive; the balancer named in
// the service config owns the choice of endpoint per call.
type Cluster struct {
	Name  string
	Guard *upstream.Guard
	conn  *grpc.ClientConn
	// inflight counts calls being relayed, so a cluster replaced by a
	// reload is closed only once its calls are done.
	inflight atomic.Int64
}

// NewCluster connects lazily, on the first call, to the endpoints that
// guard reports: a cluster that only L4 listeners use never opens HTTP/2
// connections to its endpoints.
func NewCluster(name string, guard *upstream.Guard, opts ClusterOptions) (*Cluster, error) {
	sc := opts.ServiceConfig
	if sc == "" {
		sc = defaultServiceConfig
	}
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	bo := backoff.DefaultConfig
	bo.MaxDelay = 5 * time.Second
	conn, err := grpc.NewClient(scheme+":///"+name,
		grpc.WithResolvers(guardResolver{guard: guard}),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: opts.ConnectTimeout}),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(opts.MaxMessageSize),
			grpc.MaxCallSendMsgSize(opts.MaxMessageSize),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	return &Cluster{Name: name, Guard: guard, conn: conn}, nil
}

// Close closes the cluster's connections, ending calls still in flight.
func (c *Cluster) Close() error { return c.conn.Close() }

// InFlight is the number of calls being relayed to the cluster.
func (c *Cluster) InFlight() int64 { return c.inflight.Load() }
