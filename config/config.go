// Package config loads and validates strait's YAML configuration.
//
// Every error names the field it is about, as a path from the top of the
// file (`clusters.user.endpoints[1]`), so a bad file stops start-up with
// one line that says what to fix. Unknown keys are errors.
package config

import (
	"time"

	"github.com/straitproxy/strait/accesslog"
	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/tcpproxy"
	"github.com/straitproxy/strait/tracing"
	"github.com/straitproxy/strait/upstream/etcd"
	"github.com/straitproxy/strait/upstream/k8s"
)

// Config is a whole strait configuration file.
type Config struct {
	Admin     Admin              `yaml:"admin"`
	Listeners []Listener         `yaml:"listeners"`
	Clusters  map[string]Cluster `yaml:"clusters"`
	Limits    Limits             `yaml:"limits"`
	Timeouts  Timeouts           `yaml:"timeouts"`
	// Tracing, when set, exports a span per relayed call over OTLP.
	Tracing *tracing.Options `yaml:"tracing"`
	// StateDir keeps each cluster's last good set for warm starts while a
	// registry is down. Empty disables saving.
	StateDir string `yaml:"state_dir"`
}

// Admin is the admin HTTP server (health, readiness, metrics, status).
type Admin struct {
	// Address to listen on; empty disables the admin server. Keep it on
	// loopback or a private network: it shows internals.
	Address string `yaml:"address"`
	// Pprof serves /debug/pprof/ when true.
	Pprof bool `yaml:"pprof"`
	// HistoryInterval is how often the status page's history takes a
	// point; it keeps 180, so the default 5s spans 15 minutes.
	HistoryInterval time.Duration `yaml:"history_interval"`
}

// Protocols a listener can speak.
const (
	ProtocolGRPC = "grpc"
	ProtocolTCP  = "tcp"
)

// Data paths of a grpc listener.
const (
	DataplaneRelay = "relay"
	DataplaneGRPC  = "grpc"
)

// Listener is one address strait accepts client connections on.
type Listener struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// Protocol is "grpc" (default) or "tcp".
	Protocol string `yaml:"protocol"`
	// Dataplane is how a grpc listener relays: "relay" (default), the
	// frame-level HTTP/2 relay, or "grpc", the grpc-go reference path.
	Dataplane string  `yaml:"dataplane"`
	Routes    []Route `yaml:"routes"`
	// Cluster is where a tcp listener sends every connection.
	Cluster string `yaml:"cluster"`
	// TCP shapes a tcp listener's connections (dial, limits, drain,
	// PROXY protocol); its keys sit directly in the listener.
	TCP tcpproxy.Options `yaml:",inline"`
	// DefaultCluster takes calls that no route matches; empty means such
	// calls fail with Unimplemented.
	DefaultCluster string `yaml:"default_cluster"`
	// TLS, when set, serves TLS (ALPN h2) instead of h2c.
	TLS *ListenerTLS `yaml:"tls"`
	// AccessLog, when set, writes a line per call (grpc listeners on
	// the relay) or per connection (tcp listeners).
	AccessLog *accesslog.Options `yaml:"access_log"`
}

// ListenerTLS is a listener's certificate and optional client verification.
// The files are re-read when they change.
type ListenerTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA verifies client certificates (mTLS).
	ClientCA string `yaml:"client_ca"`
	// RequireClientCert refuses clients without a certificate from ClientCA.
	RequireClientCert bool `yaml:"require_client_cert"`
}

// UpstreamTLS is how a cluster's endpoints are reached over TLS.
type UpstreamTLS struct {
	// CA verifies the endpoints; empty uses the system roots.
	CA string `yaml:"ca"`
	// Cert and Key are presented to endpoints that ask (mTLS).
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ServerName is checked in the endpoints' certificates instead of
	// the dialed host.
	ServerName string `yaml:"server_name"`
}

// Route sends calls to a cluster, by full service name or by a prefix of
// the method path. Exactly one of Service and Prefix is set.
type Route struct {
	// Service is a full service name, "pkg.Service".
	Service string `yaml:"service"`
	// Prefix matches the start of the method path, "/pkg.".
	Prefix  string `yaml:"prefix"`
	Cluster string `yaml:"cluster"`
	// Retry, when set, retries the route's failed calls (relay only).
	Retry *RetryPolicy `yaml:"retry"`
	// Idempotent says the route's methods are safe to run more than
	// once at the same time, which hedging needs (relay only).
	Idempotent bool `yaml:"idempotent"`
	// Hedge, when set, sends a call again to another endpoint while
	// its first attempt has not answered (relay only; needs Idempotent,
	// excludes Retry).
	Hedge *HedgePolicy `yaml:"hedge"`
}

// Cluster is a named upstream set and how to reach it.
type Cluster struct {
	// Endpoints is a static list of host:port (go-zero's Endpoints).
	Endpoints []string `yaml:"endpoints"`
	// Etcd discovers the endpoints in etcd, in go-zero's key layout
	// (go-zero's Etcd: hosts + key).
	Etcd *etcd.Config `yaml:"etcd"`
	// K8s discovers the endpoints from a Kubernetes Service's
	// EndpointSlices instead: its keys, target (k8s://ns/service:port) and
	// kubeconfig, sit beside endpoints.
	K8s k8s.Config `yaml:",inline"`
	// TLS, when set, dials the endpoints over TLS.
	TLS *UpstreamTLS `yaml:"tls"`
	// Balancer chooses an endpoint per call (P2C over peak-EWMA by
	// default), ejects failing endpoints and lets them back.
	Balancer lb.Options `yaml:"balancer"`
	// RetryBudget bounds the retries of calls to the cluster (relay
	// listeners); defaults apply when it is absent.
	RetryBudget *RetryBudget `yaml:"retry_budget"`
}

// Limits bound what one call, connection or peer may make strait hold.
// Zero means the default; keys marked "relay" are refused when a
// listener uses the grpc dataplane, which has no equivalent.
type Limits struct {
	// MaxMessageSize is the largest message either way; larger ones fail
	// with ResourceExhausted. Default 4 MiB.
	MaxMessageSize ByteSize `yaml:"max_message_size"`
	// MaxConcurrentStreams per client connection; 0 means the default
	// (relay 1000, grpc dataplane unlimited).
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams"`
	// RetryBuffer is the request bytes a relay listener keeps per call to
	// send it again (transparent retries, retry policies); a call that
	// outgrows it is not retried. Default 256 KiB.
	RetryBuffer ByteSize `yaml:"retry_buffer"`
	// RetryBufferTotal bounds the retry buffers of all calls. Default
	// 64 MiB.
	RetryBufferTotal ByteSize `yaml:"retry_buffer_total"`
	// StreamWindow is the flow-control window per stream, both sides:
	// what strait holds per stream at most. Default 256 KiB on the
	// relay; on the grpc dataplane it fixes grpc-go's window (which is
	// otherwise sized by BDP estimation).
	StreamWindow ByteSize `yaml:"stream_window"`
	// ConnectionWindow is the flow-control window per connection, both
	// sides. Default 4 MiB on the relay; grpc-go's otherwise.
	ConnectionWindow ByteSize `yaml:"connection_window"`
	// MaxHeaderListSize bounds a decoded header block. Default 64 KiB on
	// the relay, 16 MiB (grpc-go's) on the grpc dataplane.
	MaxHeaderListSize ByteSize `yaml:"max_header_list_size"`
	// MaxContinuations bounds the CONTINUATION frames of one header
	// block. Default 32. Relay.
	MaxContinuations int `yaml:"max_continuations"`
	// WriteBuffer bounds the DATA buffered for one connection beyond the
	// write under way. Default 1 MiB. Relay.
	WriteBuffer ByteSize `yaml:"write_buffer"`
	// SocketUnsent bounds what a client connection's socket queues and
	// has not sent (TCP_NOTSENT_LOWAT, Linux). Default 128 KiB. Relay.
	SocketUnsent ByteSize `yaml:"socket_unsent"`
	// BufferBudget bounds the bytes all relay listeners hold for peers
	// together; near it strait sheds load (README). Default 256 MiB.
	// Relay.
	BufferBudget ByteSize `yaml:"buffer_budget"`
	// GCHeadroom bounds how far the heap may grow past what is live
	// before a collection (internal/gcheadroom): GOGC 400's four times
	// the live heap, but at most this, and never less than the live heap.
	// Default 32 MiB. GOMEMLIMIT in the environment replaces it.
	GCHeadroom ByteSize `yaml:"gc_headroom"`
	// UpstreamConnections bounds the connections to one endpoint.
	// Default 4. Relay.
	UpstreamConnections int `yaml:"upstream_connections"`
	// Flood limits frames per client connection that cost work without
	// progress; past one, the connection ends with ENHANCE_YOUR_CALM.
	// Relay.
	Flood Flood `yaml:"flood"`
}

// Flood is the token bucket of each kind of frame a client could flood.
type Flood struct {
	// Resets counts RST_STREAM from the client and resets it provokes.
	// Default 200/s, burst 1000.
	Resets Rate `yaml:"resets"`
	// Pings counts PINGs with no stream traffic since the previous one.
	// Default 1000/s, burst 1000.
	Pings Rate `yaml:"pings"`
	// Settings counts SETTINGS frames. Default 10/s, burst 100.
	Settings Rate `yaml:"settings"`
	// EmptyFrames counts DATA without payload, PRIORITY and unknown
	// frames. Default 100/s, burst 1000.
	EmptyFrames Rate `yaml:"empty_frames"`
}

// Rate is a sustained rate per second and a burst; zero takes the
// default.
type Rate struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     float64 `yaml:"burst"`
}

func (f Flood) set() bool { return f != Flood{} }

// Timeouts for connections and shutdown.
type Timeouts struct {
	// Connect bounds dialing an upstream endpoint. Default 5s.
	Connect time.Duration `yaml:"connect"`
	// Drain is how long in-flight calls may run on shutdown. Default 15s.
	Drain time.Duration `yaml:"drain"`
	// Keepalive probes the relay's upstream connections.
	Keepalive Keepalive `yaml:"keepalive"`
	// WriteStall drops a peer that does not take a write within it (a
	// client that stopped reading its socket). Default 30s. Relay.
	WriteStall time.Duration `yaml:"write_stall"`

	// The limits below are for grpc listeners (tcp listeners have their
	// own); those marked relay only are refused when a listener uses
	// dataplane: grpc.

	// Handshake bounds a client's connection preface and SETTINGS (and,
	// on the relay, an endpoint's SETTINGS). Default 10s.
	Handshake time.Duration `yaml:"handshake"`
	// Idle closes a client connection without calls for this long.
	// Default 5m.
	Idle time.Duration `yaml:"idle"`
	// IgnoreGRPCTimeout stops the relay from ending calls at their
	// grpc-timeout (enforced by default; the header is passed upstream
	// either way). Relay only.
	IgnoreGRPCTimeout bool `yaml:"ignore_grpc_timeout"`
	// MaxStreamDuration ends any call this long after it began. Default
	// 0: no limit. Relay only.
	MaxStreamDuration time.Duration `yaml:"max_stream_duration"`
	// StreamIdle ends a call on which no frame passed for this long;
	// 0 turns it off. Default 5m. Relay only.
	StreamIdle *time.Duration `yaml:"stream_idle"`
	// Queue fails a call that waited this long for a connection to its
	// endpoint or a stream slot on one; 0 turns it off. Default 10s.
	// Relay only.
	Queue *time.Duration `yaml:"queue"`
}

// Keepalive is how relay listeners find upstream connections whose peer
// vanished without closing them (host gone, flow dropped by a
// middlebox): a connection carrying calls that received nothing for
// Interval is sent a PING; with no answer within Timeout it is closed,
// its calls fail Unavailable and new calls go elsewhere.
type Keepalive struct {
	// Interval of silence before a PING. Default 10s.
	Interval time.Duration `yaml:"interval"`
	// Timeout for the answer. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MinTime is the endpoints' keep-alive enforcement MinTime: a
	// connection whose calls are quiet is pinged no more often, so the
	// endpoints never answer GOAWAY too_many_pings. Default 5m, gRPC
	// servers' default.
	MinTime time.Duration `yaml:"min_time"`
	// Disabled sends no PINGs.
	Disabled bool `yaml:"disabled"`
}

// Defaults.
const (
	DefaultMaxMessageSize = 4 << 20
	DefaultConnectTimeout = 5 * time.Second
	DefaultDrainTimeout   = 15 * time.Second
	// DefaultHistoryInterval: 180 points of 5 s are the last 15 minutes.
	DefaultHistoryInterval = 5 * time.Second

	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultStreamIdleTimeout = 5 * time.Minute
	DefaultQueueTimeout      = 10 * time.Second

	DefaultKeepaliveInterval = 10 * time.Second
	DefaultKeepaliveTimeout  = 10 * time.Second
	DefaultKeepaliveMinTime  = 5 * time.Minute
	// DefaultGCHeadroom is Limits.GCHeadroom's default.
	DefaultGCHeadroom = 32 << 20
)

func (c *Config) applyDefaults() {
	if c.Limits.MaxMessageSize == 0 {
		c.Limits.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.Timeouts.Connect == 0 {
		c.Timeouts.Connect = DefaultConnectTimeout
	}
	if c.Limits.RetryBuffer == 0 {
		c.Limits.RetryBuffer = DefaultRetryBuffer
	}
	if c.Limits.RetryBufferTotal == 0 {
		c.Limits.RetryBufferTotal = DefaultRetryBufferTotal
	}
	if c.Limits.GCHeadroom == 0 {
		c.Limits.GCHeadroom = DefaultGCHeadroom
	}
	if c.Timeouts.Drain == 0 {
		c.Timeouts.Drain = DefaultDrainTimeout
	}
	if c.Admin.HistoryInterval == 0 {
		c.Admin.HistoryInterval = DefaultHistoryInterval
	}
	c.Timeouts.Keepalive.applyDefaults()
	if c.Tracing != nil {
		*c.Tracing = c.Tracing.WithDefaults()
	}
	c.Timeouts.applyDefaults()
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Protocol == "" {
			l.Protocol = ProtocolGRPC
		}
		if l.Dataplane == "" && l.Protocol == ProtocolGRPC {
			l.Dataplane = DataplaneRelay
		}
		if l.TCP.DialTimeout == 0 && l.Protocol == ProtocolTCP {
			l.TCP.DialTimeout = c.Timeouts.Connect
		}
		l.TCP.Name, l.TCP.Cluster = l.Name, l.Cluster
		if l.AccessLog != nil {
			*l.AccessLog = l.AccessLog.WithDefaults()
		}
		for j := range l.Routes {
			if p := l.Routes[j].Retry; p != nil {
				p.applyDefaults()
			}
			if p := l.Routes[j].Hedge; p != nil {
				p.applyDefaults()
			}
		}
	}
}

func (t *Timeouts) applyDefaults() {
	if t.Handshake == 0 {
		t.Handshake = DefaultHandshakeTimeout
	}
	if t.Idle == 0 {
		t.Idle = DefaultIdleTimeout
	}
}

func (k *Keepalive) applyDefaults() {
	if k.Interval == 0 {
		k.Interval = DefaultKeepaliveInterval
	}
	if k.Timeout == 0 {
		k.Timeout = DefaultKeepaliveTimeout
	}
	if k.MinTime == 0 {
		k.MinTime = DefaultKeepaliveMinTime
	}
}
