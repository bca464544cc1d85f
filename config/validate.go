package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/tcpproxy"
	"github.com/straitproxy/strait/upstream/etcd"
	"github.com/straitproxy/strait/upstream/k8s"
)

func (c *Config) validate() error {
	if len(c.Listeners) == 0 {
		return errorf("listeners", "at least one listener is required")
	}
	if len(c.Clusters) == 0 {
		return errorf("clusters", "at least one cluster is required")
	}
	for _, name := range sortedKeys(c.Clusters) {
		if err := c.Clusters[name].validate("clusters." + name); err != nil {
			return err
		}
	}
	names := map[string]bool{}
	for i, l := range c.Listeners {
		path := fmt.Sprintf("listeners[%d]", i)
		if l.Name != "" && names[l.Name] {
			return errorf(path+".name", "%q is used by another listener", l.Name)
		}
		names[l.Name] = true
		if err := c.validateListener(l, path); err != nil {
			return err
		}
		if err := validateAccessLog(l, path+".access_log"); err != nil {
			return err
		}
		if err := c.validatePolicy(l, path); err != nil {
			return err
		}
	}
	if c.Admin.Address != "" {
		if err := checkHostPort(c.Admin.Address); err != nil {
			return errorf("admin.address", "%q %s", c.Admin.Address, err)
		}
	}
	if h := c.Admin.HistoryInterval; h < 100*time.Millisecond || h > time.Minute {
		return errorf("admin.history_interval", "%s is not between 100ms and 1m", h)
	}
	if c.Limits.RetryBuffer < 0 || c.Limits.RetryBuffer > 1<<30 {
		return errorf("limits.retry_buffer", "%d is not between 0 and 1 GiB", c.Limits.RetryBuffer)
	}
	if c.Limits.RetryBufferTotal < c.Limits.RetryBuffer {
		return errorf("limits.retry_buffer_total", "%d is below retry_buffer (%d)", c.Limits.RetryBufferTotal, c.Limits.RetryBuffer)
	}
	if c.Limits.MaxMessageSize > 1<<31-1 {
		return errorf("limits.max_message_size", "%d is over the 2 GiB a gRPC message can have", c.Limits.MaxMessageSize)
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if c.Timeouts.Connect < 0 {
		return errorf("timeouts.connect", "%s is negative", c.Timeouts.Connect)
	}
	if c.Timeouts.Drain < 0 {
		return errorf("timeouts.drain", "%s is negative", c.Timeouts.Drain)
	}
	if err := c.validateRetryBudgets(); err != nil {
		return err
	}
	if err := c.validateHealthCheckTimes(); err != nil {
		return err
	}
	if err := c.validateTracing(); err != nil {
		return err
	}
	if err := c.Timeouts.validate(c.Listeners); err != nil {
		return err
	}
	return c.Timeouts.Keepalive.validate("timeouts.keepalive")
}

// validateLimits checks the limits' ranges, and refuses those the grpc
// dataplane has no equivalent for when a listener uses it.
func (c *Config) validateLimits() error {
	l := c.Limits
	for _, f := range []struct {
		key       string
		v, lo, hi int64
	}{
		{"stream_window", int64(l.StreamWindow), 1024, 1<<31 - 1},
		{"connection_window", int64(l.ConnectionWindow), 65535, 1<<31 - 1},
		{"max_header_list_size", int64(l.MaxHeaderListSize), 1024, 1<<32 - 1},
		{"max_continuations", int64(l.MaxContinuations), 1, 1 << 16},
		{"write_buffer", int64(l.WriteBuffer), 16 << 10, 1 << 30},
		{"socket_unsent", int64(l.SocketUnsent), 16 << 10, 1 << 30},
		{"buffer_budget", int64(l.BufferBudget), 1 << 20, 1 << 50},
		{"gc_headroom", int64(l.GCHeadroom), 1 << 20, 1 << 40},
		{"upstream_connections", int64(l.UpstreamConnections), 1, 1 << 10},
	} {
		if f.v != 0 && (f.v < f.lo || f.v > f.hi) {
			return errorf("limits."+f.key, "%d is outside %d..%d", f.v, f.lo, f.hi)
		}
	}
	for _, r := range []struct {
		key string
		r   Rate
	}{{"resets", l.Flood.Resets}, {"pings", l.Flood.Pings}, {"settings", l.Flood.Settings}, {"empty_frames", l.Flood.EmptyFrames}} {
		if r.r.PerSecond < 0 || r.r.Burst < 0 || (r.r.Burst > 0 && r.r.Burst < 1) {
			return errorf("limits.flood."+r.key, "per_second must not be negative and burst must be at least 1")
		}
	}
	if c.Timeouts.WriteStall < 0 {
		return errorf("timeouts.write_stall", "%s is negative", c.Timeouts.WriteStall)
	}
	grpcListeners, relays := 0, 0
	for _, ln := range c.Listeners {
		if ln.Protocol == ProtocolGRPC {
			grpcListeners++
			if ln.Dataplane == DataplaneRelay {
				relays++
			}
		}
	}
	// What a config sets is used by some listener, or refused: a gRPC
	// limit with only L4 listeners, or a relay one with no relay listener
	// (the grpc-go path's own refusal below names the listener).
	if grpcListeners == 0 {
		for _, f := range []struct {
			key string
			set bool
		}{
			{"max_message_size", l.MaxMessageSize != DefaultMaxMessageSize},
			{"max_concurrent_streams", l.MaxConcurrentStreams != 0},
			{"stream_window", l.StreamWindow != 0},
			{"connection_window", l.ConnectionWindow != 0},
			{"max_header_list_size", l.MaxHeaderListSize != 0},
		} {
			if f.set {
				return errorf("limits."+f.key, "applies to gRPC listeners, and there is none")
			}
		}
	}
	type option struct {
		key string
		set bool
	}
	// The relay's per-connection limits, and what all relay listeners
	// share: a grpc-go listener beside a relay one leaves the shared ones
	// in use, but not its own connections' limits.
	perConn := []option{
		{"limits.max_continuations", l.MaxContinuations != 0},
		{"limits.write_buffer", l.WriteBuffer != 0},
		{"limits.socket_unsent", l.SocketUnsent != 0},
		{"limits.upstream_connections", l.UpstreamConnections != 0},
		{"limits.flood", l.Flood.set()},
		{"timeouts.write_stall", c.Timeouts.WriteStall != 0},
	}
	shared := []option{
		{"limits.buffer_budget", l.BufferBudget != 0},
		{"limits.retry_buffer", l.RetryBuffer != DefaultRetryBuffer},
		{"limits.retry_buffer_total", l.RetryBufferTotal != DefaultRetryBufferTotal},
	}
	for i, ln := range c.Listeners {
		if ln.Protocol != ProtocolGRPC || ln.Dataplane != DataplaneGRPC {
			continue
		}
		for _, f := range perConn {
			if f.set {
				return errorf(f.key, "is not supported by dataplane grpc (listeners[%d]); it applies to the relay only", i)
			}
		}
	}
	if relays == 0 {
		for _, f := range append(shared, perConn...) {
			if f.set {
				return errorf(f.key, "applies to relay listeners, and there is none")
			}
		}
	}
	return nil
}

// validateTracing refuses tracing where a listener would make no spans:
// the grpc-go data path has no tracer.
func (c *Config) validateTracing() error {
	if c.Tracing == nil {
		return nil
	}
	if err := c.Tracing.Validate("tracing"); err != nil {
		return &Error{Msg: err.Error()}
	}
	for i, l := range c.Listeners {
		if l.Dataplane == DataplaneGRPC {
			return errorf("tracing", "listeners[%d] uses dataplane %q, which makes no spans (use %q)", i, DataplaneGRPC, DataplaneRelay)
		}
	}
	return nil
}

// validate checks the call and connection limits; those only the relay
// has are refused when a listener uses the grpc-go data path.
func (t Timeouts) validate(listeners []Listener) error {
	durs := map[string]time.Duration{"handshake": t.Handshake, "idle": t.Idle, "max_stream_duration": t.MaxStreamDuration}
	if t.StreamIdle != nil {
		durs["stream_idle"] = *t.StreamIdle
	}
	if t.Queue != nil {
		durs["queue"] = *t.Queue
	}
	for _, key := range sortedKeys(durs) {
		if durs[key] < 0 {
			return errorf("timeouts."+key, "%s is negative", durs[key])
		}
	}
	for i, l := range listeners {
		if l.Protocol != ProtocolGRPC || l.Dataplane != DataplaneGRPC {
			continue
		}
		var key string
		switch {
		case t.IgnoreGRPCTimeout:
			key = "ignore_grpc_timeout"
		case t.MaxStreamDuration != 0:
			key = "max_stream_duration"
		case t.StreamIdle != nil:
			key = "stream_idle"
		case t.Queue != nil:
			key = "queue"
		default:
			continue
		}
		return errorf("timeouts."+key, "is relay only: listeners[%d] uses dataplane %q", i, DataplaneGRPC)
	}
	return nil
}

func (k Keepalive) validate(path string) error {
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"interval", k.Interval}, {"timeout", k.Timeout}, {"min_time", k.MinTime}} {
		if f.d < 0 {
			return errorf(path+"."+f.key, "%s is negative", f.d)
		}
	}
	return nil
}

func (c *Config) validateListener(l Listener, path string) error {
	if l.Address == "" {
		return errorf(path+".address", "is required")
	}
	if err := checkHostPort(l.Address); err != nil {
		return errorf(path+".address", "%q %s", l.Address, err)
	}
	switch l.Protocol {
	case ProtocolGRPC:
	case ProtocolTCP:
		return c.validateTCPListener(l, path)
	default:
		return errorf(path+".protocol", "%q is not supported (use %q or %q)", l.Protocol, ProtocolGRPC, ProtocolTCP)
	}
	if l.Cluster != "" {
		return errorf(path+".cluster", "is for tcp listeners; a grpc listener uses routes and default_cluster")
	}
	if l.TCP.MaxConnections < 0 {
		return errorf(path+".max_connections", "%d is negative", l.TCP.MaxConnections)
	}
	if key := tcpOnlyKey(l.TCP); key != "" {
		return errorf(path+"."+key, "is for tcp listeners; a grpc listener does not use it")
	}
	if l.Dataplane != DataplaneRelay && l.Dataplane != DataplaneGRPC {
		return errorf(path+".dataplane", "%q is not %q or %q", l.Dataplane, DataplaneRelay, DataplaneGRPC)
	}
	if len(l.Routes) == 0 && l.DefaultCluster == "" {
		return errorf(path+".routes", "a listener needs routes or a default_cluster")
	}
	if l.TLS != nil {
		if err := l.TLS.validate(path + ".tls"); err != nil {
			return err
		}
	}
	for j, r := range l.Routes {
		rpath := fmt.Sprintf("%s.routes[%d]", path, j)
		if err := c.validateRoute(r, rpath); err != nil {
			return err
		}
		if err := validateRoutePolicies(r, rpath, l.Dataplane); err != nil {
			return err
		}
	}
	if l.DefaultCluster != "" {
		if _, ok := c.Clusters[l.DefaultCluster]; !ok {
			return errorf(path+".default_cluster", "%q is not a defined cluster", l.DefaultCluster)
		}
	}
	return nil
}

// validatePolicy refuses a balancer policy the listener's data path does
// not run: only the grpc-go path has round_robin and least_request; the
// relay and L4 balance every cluster with p2c_ewma.
func (c *Config) validatePolicy(l Listener, path string) error {
	if l.Protocol == ProtocolGRPC && l.Dataplane == DataplaneGRPC {
		return nil
	}
	used := []string{l.Cluster, l.DefaultCluster}
	for _, r := range l.Routes {
		used = append(used, r.Cluster)
	}
	for _, name := range used {
		if p := c.Clusters[name].Balancer.Policy; name != "" && p != "" && p != lb.PolicyP2CEWMA {
			who, via := path, "dataplane "+l.Dataplane
			if l.Name != "" {
				who += " (" + l.Name + ")"
			}
			if l.Protocol == ProtocolTCP {
				via = "protocol tcp"
			}
			return errorf("clusters."+name+".balancer.policy", "%q needs dataplane %q; %s reaches this cluster with %s, which runs %s only",
				p, DataplaneGRPC, who, via, lb.PolicyP2CEWMA)
		}
	}
	return nil
}

// tcpOnlyKey names the first key set in o that only a tcp listener uses
// (max_connections serves both kinds), or "" when there is none.
func tcpOnlyKey(o tcpproxy.Options) string {
	for _, f := range []struct {
		key string
		set bool
	}{
		{"dial_timeout", o.DialTimeout != 0},
		{"dial_attempts", o.DialAttempts != 0},
		{"idle_timeout", o.IdleTimeout != 0},
		{"max_lifetime", o.MaxLifetime != 0},
		{"proxy_protocol", o.ProxyProtocol != ""},
		{"drain", o.Drain != (tcpproxy.DrainOptions{})},
	} {
		if f.set {
			return f.key
		}
	}
	return ""
}

// validateRetryBudgets refuses a retry budget on a cluster that no relay
// listener reaches: only the relay retries.
func (c *Config) validateRetryBudgets() error {
	for _, name := range sortedKeys(c.Clusters) {
		if c.Clusters[name].RetryBudget != nil && !c.PathsTo(name).Relay {
			return errorf("clusters."+name+".retry_budget", "only the relay retries, and no relay listener reaches this cluster")
		}
	}
	return nil
}

// validateHealthCheckTimes refuses a health check interval or timeout
// on a cluster only the grpc-go path reaches: that path follows each
// endpoint's health with grpc.health.v1 Watch, a stream that reports
// every change as it happens, and has no poll to time. The relay and L4
// poll, and use both.
func (c *Config) validateHealthCheckTimes() error {
	for _, name := range sortedKeys(c.Clusters) {
		hc := c.Clusters[name].Balancer.HealthCheck
		if p := c.PathsTo(name); !p.GRPC || p.Relay || p.TCP {
			continue
		}
		for _, f := range []struct {
			key string
			set bool
		}{{"interval", hc.Interval != 0}, {"timeout", hc.Timeout != 0}} {
			if f.set {
				return errorf("clusters."+name+".balancer.health_check."+f.key,
					"only the relay and L4 poll health; the grpc-go path that reaches this cluster watches it (grpc.health.v1 Watch) and has no %s", f.key)
			}
		}
	}
	return nil
}

// validateAccessLog refuses an access log where no line would be
// written: the grpc-go data path does not feed one.
func validateAccessLog(l Listener, path string) error {
	if l.AccessLog == nil {
		return nil
	}
	if l.Dataplane == DataplaneGRPC {
		return errorf(path, "is not supported with dataplane %q (use %q)", DataplaneGRPC, DataplaneRelay)
	}
	if err := l.AccessLog.Validate(path); err != nil {
		return &Error{Msg: err.Error()}
	}
	return nil
}

func (c *Config) validateTCPListener(l Listener, path string) error {
	if len(l.Routes) > 0 || l.DefaultCluster != "" {
		return errorf(path, "a tcp listener takes one cluster, not routes or default_cluster")
	}
	if l.Dataplane != "" {
		return errorf(path+".dataplane", "is for grpc listeners")
	}
	if l.Cluster == "" {
		return errorf(path+".cluster", "is required for a tcp listener")
	}
	if _, ok := c.Clusters[l.Cluster]; !ok {
		return errorf(path+".cluster", "%q is not a defined cluster", l.Cluster)
	}
	if err := l.TCP.Validate(path); err != nil {
		return &Error{Msg: err.Error()}
	}
	if l.TLS != nil {
		return l.TLS.validate(path + ".tls")
	}
	return nil
}

func (c *Config) validateRoute(r Route, path string) error {
	switch {
	case r.Service == "" && r.Prefix == "":
		return errorf(path, "set service or prefix")
	case r.Service != "" && r.Prefix != "":
		return errorf(path, "set service or prefix, not both")
	case r.Service != "" && (strings.Contains(r.Service, "/") || strings.TrimSpace(r.Service) != r.Service):
		return errorf(path+".service", "%q is not a full service name like pkg.Service", r.Service)
	case r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/"):
		return errorf(path+".prefix", "%q must start with /", r.Prefix)
	}
	if r.Cluster == "" {
		return errorf(path+".cluster", "is required")
	}
	if _, ok := c.Clusters[r.Cluster]; !ok {
		return errorf(path+".cluster", "%q is not a defined cluster", r.Cluster)
	}
	return nil
}

func (cl Cluster) validate(path string) error {
	if err := cl.RetryBudget.validate(path + ".retry_budget"); err != nil {
		return err
	}
	switch {
	case sourceCount(cl) == 0:
		return errorf(path, "needs a source: endpoints, etcd or target")
	case sourceCount(cl) > 1:
		return errorf(path, "has more than one source: keep one of endpoints, etcd and target")
	case cl.Etcd != nil:
		if err := cl.Etcd.Validate(); err != nil {
			var fe *etcd.FieldError
			if errors.As(err, &fe) {
				return errorf(path+".etcd."+fe.Field, "%s", fe.Msg)
			}
			return errorf(path+".etcd", "%s", err)
		}
	case cl.K8s.Target != "":
		if _, err := k8s.ParseTarget(cl.K8s.Target); err != nil {
			return errorf(path+".target", "%v", err)
		}
	}
	for i, ep := range cl.Endpoints {
		if err := checkHostPort(ep); err != nil {
			return errorf(fmt.Sprintf("%s.endpoints[%d]", path, i), "%q %s", ep, err)
		}
	}
	if err := cl.Balancer.Validate(path + ".balancer"); err != nil {
		return &Error{Msg: err.Error()}
	}
	if cl.TLS != nil {
		return cl.TLS.validate(path + ".tls")
	}
	return nil
}

// sourceCount is how many discovery sources a cluster names.
func sourceCount(cl Cluster) int {
	n := 0
	if len(cl.Endpoints) > 0 {
		n++
	}
	if cl.Etcd != nil {
		n++
	}
	if cl.K8s.Target != "" {
		n++
	}
	return n
}

func (t *ListenerTLS) validate(path string) error {
	if t.Cert == "" || t.Key == "" {
		return errorf(path, "cert and key are both required")
	}
	if t.RequireClientCert && t.ClientCA == "" {
		return errorf(path+".require_client_cert", "needs client_ca")
	}
	return checkFiles(path, map[string]string{"cert": t.Cert, "key": t.Key, "client_ca": t.ClientCA})
}

func (t *UpstreamTLS) validate(path string) error {
	if (t.Cert == "") != (t.Key == "") {
		return errorf(path, "cert and key go together")
	}
	return checkFiles(path, map[string]string{"ca": t.CA, "cert": t.Cert, "key": t.Key})
}

// checkFiles reports the first named file that cannot be read.
func checkFiles(path string, files map[string]string) error {
	for _, field := range sortedKeys(files) {
		name := files[field]
		if name == "" {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return errorf(path+"."+field, "%v", err)
		}
		f.Close()
	}
	return nil
}

// checkHostPort explains what is wrong with a host:port, or returns nil.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return fmt.Errorf("has no port")
		}
		return fmt.Errorf("is not host:port")
	}
	if host == "" && !strings.HasPrefix(addr, ":") {
		return fmt.Errorf("has no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has a bad port %q", port)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
