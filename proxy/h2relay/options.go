package h2relay

import (
	"crypto/tls"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
)

// Options shape one relay listener. Zero fields take the defaults noted.
type Options struct {
	// MaxMessageSize bounds each gRPC message either way (4 MiB).
	MaxMessageSize int
	// MaxConcurrentStreams per client connection (1000).
	MaxConcurrentStreams uint32
	// StreamWindow is the receive window per stream, both sides (256
	// KiB). It bounds what the relay holds for each stream: an upstream
	// connection's window goes back as bytes arrive, a stream's only as
	// its client takes them. Upstream, a stream starts with 64 KiB and
	// grows to StreamWindow only while its client keeps up.
	StreamWindow int32
	// ConnWindow is the receive window per connection, both sides (4 MiB).
	ConnWindow int32
	// MaxHeaderListSize bounds a decoded header block (64 KiB).
	MaxHeaderListSize uint32
	// MaxContinuations bounds the CONTINUATION frames of one block (32).
	MaxContinuations int
	// HandshakeTimeout bounds the client preface and SETTINGS, and an
	// upstream's SETTINGS (10 s).
	HandshakeTimeout time.Duration
	// IdleTimeout closes client connections without streams (5 min).
	IdleTimeout time.Duration
	// IgnoreGRPCTimeout turns off the relay's enforcement of each
	// call's grpc-timeout (on by default: when it runs out, the client
	// gets DEADLINE_EXCEEDED and the upstream stream is cancelled). The
	// header is passed upstream either way.
	IgnoreGRPCTimeout bool
	// MaxStreamDuration ends any call this long after it began, with
	// DEADLINE_EXCEEDED (0: no limit).
	MaxStreamDuration time.Duration
	// StreamIdleTimeout ends a call on which no frame passed either way
	// for this long, with DEADLINE_EXCEEDED (5 min; negative: no limit).
	StreamIdleTimeout time.Duration
	// QueueTimeout fails, with UNAVAILABLE, a call that waited this long
	// for a connection to its endpoint or a stream slot on one (10 s;
	// negative: no limit).
	QueueTimeout time.Duration
	// ConnectTimeout bounds each dial to an endpoint (5 s).
	ConnectTimeout time.Duration
	// KeepaliveInterval is how long an upstream connection carrying
	// streams may receive nothing before it is sent a PING (10 s);
	// negative turns keep-alive off.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout is how long a PING may go unanswered (nothing at
	// all received) before the connection is closed as lost: its calls
	// fail Unavailable and calls waiting for it are picked again (10 s).
	KeepaliveTimeout time.Duration
	// KeepaliveMinTime is the least time between two PINGs the
	// endpoints accept while they send nothing (5 min, the MinTime of
	// gRPC servers' default enforcement policy); more often and they
	// answer GOAWAY too_many_pings.
	KeepaliveMinTime time.Duration
	// WriteBuffer bounds the DATA buffered for one peer beyond the write
	// under way (1 MiB): more stays queued on its stream, held by the
	// stream's window, until the peer takes what is buffered.
	WriteBuffer int
	// SocketUnsent bounds what a client connection's socket queues and
	// has not sent (TCP_NOTSENT_LOWAT, Linux only; 128 KiB): see
	// limitUnsent.
	SocketUnsent int
	// WriteStall ends a connection whose peer does not take a write
	// within it (30 s): a client that stops reading its socket.
	WriteStall time.Duration
	// MaxConnections bounds the client connections a Server serves at
	// once (DefaultMaxConnections): at the cap it stops accepting until one ends.
	MaxConnections int
	// Budget bounds the bytes held for peers, shared by the Servers of a
	// process; nil gives the Server a budget of its own (DefaultBudget).
	Budget *Budget
	// MaxConnsPerEndpoint bounds the upstream pool of one endpoint (4).
	MaxConnsPerEndpoint int
	// UpstreamTLS, when set, dials endpoints over TLS with ALPN "h2";
	// an empty ServerName is taken from the endpoint's host. A
	// TLSBalancer's own configuration takes precedence.
	UpstreamTLS *tls.Config
	// Flood limits per client connection: sustained rate per second and
	// burst of client resets (rapid reset), PINGs, SETTINGS and empty or
	// otherwise useless frames. Exceeding one ends the connection with
	// ENHANCE_YOUR_CALM.
	ResetRate, PingRate, SettingsRate, EmptyRate Rate
	// Logger receives connection-level events (discarded).
	Logger *slog.Logger
	// Begin, when set, hears of every client call as it opens, once
	// routing has named its cluster ("" when unrouted). What it returns
	// comes back in the call's Observation.Begun, so that a metric
	// counted up here is counted down by the same series at the end.
	// Every call that begins is observed exactly once. It runs on the
	// connection's reader: it must not block.
	Begin func(method, cluster string) any
	// ReplayBuffer bounds the request bytes kept per call so that a call
	// its endpoint did not process can be sent to another (256 KiB); a
	// call whose request outgrows it is no longer retried.
	ReplayBuffer int
	// ReplayMemory bounds the replay buffers of every call together; it
	// may be shared by several servers (64 MiB, this server's own).
	ReplayMemory *ByteBudget
	// OnRetry, when set, hears of each retry of a call to cluster, and
	// of each call not retried because of its buffer. It may run under
	// relay locks: it must not block.
	OnRetry func(cluster string, e RetryEvent)
	// Observe, when set, hears of every finished client call, for
	// metrics; also of calls cut short by their connection's end. It
	// runs under relay locks: it must not block.
	Observe func(Observation)
	// Tracer, when set, opens a span for every routed call; the call
	// goes upstream with the traceparent it returns, and its span comes
	// back in Observation.Span. It implies Detail.
	Tracer CallTracer
	// Detail fills the Observation's detail fields (client, authority,
	// trace parent, message, attempts, first byte, bytes), for access
	// logs. Off, they stay zero and cost nothing.
	Detail bool

	// plainHTTP2 relays requests that are not gRPC calls (any method or
	// content-type) instead of answering them 405/415 itself. Only the
	// HTTP/2 conformance test sets it (export_test.go): h2spec's
	// requests are plain HTTP/2, and it checks the frame layer through a
	// plain HTTP/2 backend, which needs its streams to stay open.
	plainHTTP2 bool
}

// Defaults of the replay buffers.
const (
	DefaultReplayBuffer = 256 << 10
	DefaultReplayMemory = 64 << 20
)

// DefaultMaxConnections is a listener's cap on client connections when
// Options.MaxConnections is zero.
const DefaultMaxConnections = 10000

// CallTracer opens a span per call. Start runs on the client
// connection's reader: it must not block.
type CallTracer interface {
	// Start opens the span of a call routed to cluster, the child of
	// the request's traceparent ("" when none), and returns the
	// traceparent to send upstream ("" to leave the request's as is).
	Start(method, cluster, traceparent string) (outgoing string, span any)
}

// Observation is one finished client call.
type Observation struct {
	// Method is the request's :path; Cluster is "" when unrouted.
	Method, Cluster string
	// Endpoint served the call ("" when none was picked).
	Endpoint string
	// Code is the grpc-status sent to the client; Canceled when the
	// stream ended by a reset without one.
	Code codes.Code
	// Duration runs from the request headers to the end of the stream.
	Duration time.Duration
	// Begun is what Options.Begin returned for the call.
	Begun any
	// Span is what Options.Tracer's Start returned (nil without one, and
	// for unrouted calls).
	Span any

	// Set only with Options.Detail:

	// Client is the client connection's remote address.
	Client string
	// Authority and TraceParent are the request's :authority and
	// traceparent headers.
	Authority, TraceParent string
	// Message is the grpc-message sent with a Code other than OK.
	Message string
	// Attempts is how many endpoints were picked for the call.
	Attempts int
	// FirstByte runs from the request headers to the first response
	// headers from the endpoint; 0 when none came.
	FirstByte time.Duration
	// RequestBytes and ResponseBytes count the DATA payload relayed
	// each way.
	RequestBytes, ResponseBytes int64
}

// Rate is a token bucket: PerSecond sustained, Burst at once.
type Rate struct {
	PerSecond, Burst float64
}

func (o Options) withDefaults() Options {
	def := func(v *int32, d int32) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.StreamWindow, 256<<10)
	def(&o.ConnWindow, 4<<20)
	o.StreamWindow = max(o.StreamWindow, 1024)
	o.ConnWindow = max(o.ConnWindow, defaultWindow)
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 4 << 20
	}
	if o.WriteBuffer <= 0 {
		o.WriteBuffer = 1 << 20
	}
	if o.SocketUnsent <= 0 {
		o.SocketUnsent = 128 << 10
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.Budget == nil {
		o.Budget = NewBudget(DefaultBudget)
	}
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 1000
	}
	if o.MaxHeaderListSize == 0 {
		o.MaxHeaderListSize = 64 << 10
	}
	if o.MaxContinuations <= 0 {
		o.MaxContinuations = 32
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&o.HandshakeTimeout, 10*time.Second)
	dur(&o.IdleTimeout, 5*time.Minute)
	dur(&o.ConnectTimeout, 5*time.Second)
	dur(&o.WriteStall, 30*time.Second)
	if o.StreamIdleTimeout == 0 {
		o.StreamIdleTimeout = 5 * time.Minute
	}
	if o.QueueTimeout == 0 {
		o.QueueTimeout = 10 * time.Second
	}
	if o.KeepaliveInterval == 0 {
		o.KeepaliveInterval = 10 * time.Second
	}
	dur(&o.KeepaliveTimeout, 10*time.Second)
	dur(&o.KeepaliveMinTime, 5*time.Minute)
	if o.ReplayBuffer <= 0 {
		o.ReplayBuffer = DefaultReplayBuffer
	}
	if o.ReplayMemory == nil {
		o.ReplayMemory = NewByteBudget(DefaultReplayMemory)
	}
	if o.MaxConnsPerEndpoint <= 0 {
		o.MaxConnsPerEndpoint = 4
	}
	rate := func(r *Rate, d Rate) {
		if r.PerSecond <= 0 || r.Burst <= 0 {
			*r = d
		}
	}
	rate(&o.ResetRate, Rate{200, 1000})
	rate(&o.PingRate, Rate{1000, 1000})
	rate(&o.SettingsRate, Rate{10, 100})
	rate(&o.EmptyRate, Rate{100, 1000})
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
