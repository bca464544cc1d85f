package lb

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"sync"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/endpointsharding"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/serviceconfig"
)

func init() {
	balancer.Register(builder{registry: DefaultRegistry})
}

// lbConfig is the balancer's part of a service config:
// {"loadBalancingConfig":[{"p2c_ewma":{"cluster":"users", ...Options}}]}.
type lbConfig struct {
	serviceconfig.LoadBalancingConfig `json:"-"`
	// Cluster names the pool in the registry; without it the pool is
	// named after the channel's target.
	Cluster string `json:"cluster,omitempty"`
	Options
}

// builder is stateless: each ClientConn gets its own balancer, which finds
// its cluster's pool in the registry.
type builder struct{ registry *Registry }

// Name implements balancer.Builder.
func (builder) Name() string { return Name }

// ParseConfig implements balancer.ConfigParser: the JSON under p2c_ewma,
// validated like the YAML options.
func (builder) ParseConfig(raw json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	var c lbConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: config: %w", Name, err)
	}
	if err := c.Options.Validate(Name); err != nil {
		return nil, fmt.Errorf("%s: config: %w", Name, err)
	}
	return &c, nil
}

// Build implements balancer.Builder.
func (b builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	bal := &p2cBalancer{ClientConn: cc, registry: b.registry, target: opts.Target.String()}
	bal.child = endpointsharding.NewBalancer(bal, opts, balancer.Get(pickfirst.Name).Build, endpointsharding.Options{})
	return bal
}

// p2cBalancer lets endpointsharding run one pick_first child per endpoint
// (connections, reconnect back-off, client-side health checks) and turns
// the ready children into a picker over its pool. It embeds the
// ClientConn to intercept the children's aggregated UpdateState.
type p2cBalancer struct {
	balancer.ClientConn
	child    balancer.Balancer
	registry *Registry
	target   string

	mu      sync.Mutex
	cfg     *lbConfig
	pool    *Pool
	release func()
	closed  bool
}

// UpdateClientConnState finds the cluster's pool and hands the endpoints
// to endpointsharding.
func (b *p2cBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*lbConfig)
	if !ok {
		return balancer.ErrBadResolverState
	}
	b.setConfig(cfg)
	return b.child.UpdateClientConnState(balancer.ClientConnState{
		// Lets pick_first children run the health checks of
		// healthCheckConfig, when the service config has one.
		ResolverState: pickfirst.EnableHealthListener(s.ResolverState),
	})
}

func (b *p2cBalancer) setConfig(cfg *lbConfig) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg != nil && reflect.DeepEqual(b.cfg, cfg) {
		return
	}
	cluster := cfg.Cluster
	if cluster == "" {
		cluster = b.target
	}
	pool, release := b.registry.Acquire(cluster, cfg.Options)
	if b.release != nil {
		b.release()
	}
	b.cfg, b.pool, b.release = cfg, pool, release
}

// ResolverError keeps the current picker (endpointsharding decides).
func (b *p2cBalancer) ResolverError(err error) { b.child.ResolverError(err) }

// ExitIdle wakes the children.
func (b *p2cBalancer) ExitIdle() { b.child.ExitIdle() }

// UpdateSubConnState is never called: the children own the SubConns.
func (b *p2cBalancer) UpdateSubConnState(sc balancer.SubConn, s balancer.SubConnState) {
	slog.Error("lb: unexpected UpdateSubConnState", "subconn", sc, "state", s.ConnectivityState)
}

// Close closes the children and releases the pool.
func (b *p2cBalancer) Close() {
	b.child.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.release != nil {
		b.release()
	}
}

// UpdateState receives endpointsharding's aggregate; the ready children
// become the pool's members and the new picker's choices. With none ready
// the aggregate (queue, or fail with the children's error) goes up as is.
func (b *p2cBalancer) UpdateState(s balancer.State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.pool == nil {
		return
	}
	var addrs []string
	var pickers []balancer.Picker
	for _, c := range endpointsharding.ChildStatesFromPicker(s.Picker) {
		if c.State.ConnectivityState != connectivity.Ready || len(c.Endpoint.Addresses) == 0 {
			continue
		}
		addrs = append(addrs, c.Endpoint.Addresses[0].Addr)
		pickers = append(pickers, c.State.Picker)
	}
	set := b.pool.Update(addrs)
	if set.Len() == 0 {
		b.ClientConn.UpdateState(s)
		return
	}
	b.ClientConn.UpdateState(balancer.State{
		ConnectivityState: connectivity.Ready,
		Picker:            newPicker(b.pool, set, addrs, pickers),
	})
}
