package gateway

import (
	"cmp"
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/accesslog"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/internal/tlsfiles"
	"github.com/straitproxy/strait/metrics"
	"github.com/straitproxy/strait/proxy"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
	"github.com/straitproxy/strait/tracing"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc/codes"
)

// listener is one bound listener: the HTTP/2 relay, the grpc-go path or
// a TCP proxy; exactly one of relay, grpc and tcp is set.
type listener struct {
	cfg   config.Listener
	lis   net.Listener
	relay *h2relay.Server
	grpc  *proxy.Server
	tcp   *tcpListener
	// alog is the access log, nil when off; closed after the server
	// stopped, so that every call's line is written.
	alog *accesslog.Logger
}

func (l *listener) shutdown(ctx context.Context) {
	switch {
	case l.tcp != nil:
		_ = l.tcp.proxy.Shutdown(ctx)
	case l.relay != nil:
		l.relay.Shutdown(ctx)
	default:
		l.grpc.Shutdown(ctx)
	}
}

func (l *listener) stop() {
	switch {
	case l.tcp != nil:
		l.tcp.proxy.Close()
		l.tcp.stopFollowing()
	case l.relay != nil:
		l.relay.Stop()
	default:
		l.grpc.Stop()
	}
	if l.alog != nil {
		l.alog.Close()
	}
}

// follow points the listener at the gateway's current clusters.
func (l *listener) follow(g *Gateway) {
	switch {
	case l.tcp != nil:
		l.tcp.follow(g.clusters[l.cfg.Cluster])
	case l.relay != nil:
		l.relay.SetRoutes(g.relayRouter(l.cfg), g.relayBalancers())
	default:
		l.grpc.SetRoutes(g.routes(l.cfg))
	}
}

// route names the cluster the listener sends method to (gRPC listeners).
func (l *listener) route(method string) (string, bool) {
	switch {
	case l.relay != nil:
		return l.relay.Route(method)
	case l.grpc != nil:
		return l.grpc.Route(method)
	}
	return "", false
}

func (g *Gateway) startListener(lc config.Listener) (*listener, error) {
	var tlsConf *tls.Config
	if t := lc.TLS; t != nil {
		var err error
		tlsConf, err = tlsfiles.ServerConfig(tlsfiles.ServerFiles{Cert: t.Cert, Key: t.Key, ClientCA: t.ClientCA, RequireClientCert: t.RequireClientCert})
		if err != nil {
			return nil, err
		}
	}
	var alog *accesslog.Logger
	if lc.AccessLog != nil {
		var err error
		if alog, err = accesslog.Open(*lc.AccessLog); err != nil {
			return nil, err
		}
	}
	lis, err := net.Listen("tcp", lc.Address)
	if err != nil {
		if alog != nil {
			alog.Close()
		}
		return nil, err
	}
	l := &listener{cfg: lc, lis: lis, alog: alog}
	if alog != nil && g.registry != nil {
		registerAccessLog(g.registry, lc.Name, alog)
	}
	switch {
	case lc.Protocol == config.ProtocolTCP:
		if tlsConf != nil {
			lis = tls.NewListener(lis, tlsConf)
		}
		l.tcp = g.startTCP(lc, lis, alog)
	case lc.Dataplane == config.DataplaneGRPC:
		l.grpc = g.startGRPC(lc, lis, tlsConf)
	default:
		if tlsConf != nil {
			lis = tls.NewListener(lis, tlsConf)
		}
		l.relay = g.startRelay(lc, lis, alog)
	}
	g.log.Info("listening", "listener", lc.Name, "address", lis.Addr().String(), "protocol", lc.Protocol, "dataplane", lc.Dataplane, "tls", lc.TLS != nil)
	return l, nil
}

func (g *Gateway) startGRPC(lc config.Listener, lis net.Listener, tlsConf *tls.Config) *proxy.Server {
	lim := g.cfg.Limits
	opts := proxy.ServerOptions{
		MaxMessageSize:       int(lim.MaxMessageSize),
		MaxConcurrentStreams: lim.MaxConcurrentStreams,
		StreamWindow:         int32(lim.StreamWindow),
		ConnWindow:           int32(lim.ConnectionWindow),
		MaxHeaderListSize:    uint32(lim.MaxHeaderListSize),
		HandshakeTimeout:     g.cfg.Timeouts.Handshake,
		IdleTimeout:          g.cfg.Timeouts.Idle,
		TLS:                  tlsConf,
	}
	if g.metrics != nil {
		opts.StatsHandler = g.metrics.StatsHandler()
		opts.Picked = metrics.PickedEndpoint
	}
	srv := proxy.NewServer(g.routes(lc), opts)
	lis = netutil.LimitListener(lis, cmp.Or(lc.TCP.MaxConnections, h2relay.DefaultMaxConnections))
	g.wg.Go(func() { _ = srv.Serve(lis) })
	return srv
}

func (g *Gateway) startRelay(lc config.Listener, lis net.Listener, alog *accesslog.Logger) *h2relay.Server {
	lim := g.cfg.Limits
	opts := h2relay.Options{
		MaxMessageSize:       int(lim.MaxMessageSize),
		MaxConcurrentStreams: lim.MaxConcurrentStreams,
		StreamWindow:         int32(lim.StreamWindow),
		ConnWindow:           int32(lim.ConnectionWindow),
		MaxHeaderListSize:    uint32(lim.MaxHeaderListSize),
		MaxContinuations:     lim.MaxContinuations,
		WriteBuffer:          int(lim.WriteBuffer),
		SocketUnsent:         int(lim.SocketUnsent),
		MaxConnsPerEndpoint:  lim.UpstreamConnections,
		ResetRate:            h2relay.Rate(lim.Flood.Resets),
		PingRate:             h2relay.Rate(lim.Flood.Pings),
		SettingsRate:         h2relay.Rate(lim.Flood.Settings),
		EmptyRate:            h2relay.Rate(lim.Flood.EmptyFrames),
		MaxConnections:       lc.TCP.MaxConnections,
		Budget:               g.budget,
		WriteStall:           g.cfg.Timeouts.WriteStall,
		ConnectTimeout:       g.cfg.Timeouts.Connect,
		Logger:               g.log.With("listener", lc.Name),
		ReplayBuffer:         int(g.cfg.Limits.RetryBuffer),
		ReplayMemory:         g.replayMemory(),
	}
	keepalive(&opts, g.cfg.Timeouts.Keepalive)
	callTimeouts(&opts, g.cfg.Timeouts)
	if m := g.metrics; m != nil {
		opts.Begin = func(method, _ string) any { return m.StartCall(method) }
		opts.Observe = endRelayCall
		opts.OnRetry = func(cluster string, e h2relay.RetryEvent) { m.Retried(cluster, string(e), e.Skipped()) }
	}
	if t := g.tracer; t != nil {
		opts.Tracer = t
		opts.Observe = endSpan(opts.Observe, t)
	}
	if alog != nil {
		opts.Observe = logRelayCall(opts.Observe, lc.Name, alog)
		opts.Detail = true
	}
	srv := h2relay.NewServer(g.relayRouter(lc), g.relayBalancers(), opts)
	g.wg.Go(func() { _ = srv.Serve(lis) })
	return srv
}

// endRelayCall ends the metrics.Call that Options.Begin started.
func endRelayCall(o h2relay.Observation) {
	if c, ok := o.Begun.(*metrics.Call); ok {
		c.End(o.Endpoint, o.Code, o.Duration)
	}
}

// endSpan adds ending the call's span to what next does with each
// finished call.
func endSpan(next func(h2relay.Observation), t *tracing.Tracer) func(h2relay.Observation) {
	return func(o h2relay.Observation) {
		if next != nil {
			next(o)
		}
		if o.Span != nil {
			t.End(o.Span, o.Endpoint, o.Code, o.Message)
		}
	}
}

// logRelayCall adds an access log line to what next does with each
// finished call.
func logRelayCall(next func(h2relay.Observation), listener string, alog *accesslog.Logger) func(h2relay.Observation) {
	return func(o h2relay.Observation) {
		if next != nil {
			next(o)
		}
		if !alog.Sampled(o.Code != codes.OK) {
			return
		}
		alog.Call(&accesslog.Call{
			Time: time.Now().Add(-o.Duration), Listener: listener, Client: o.Client,
			Authority: o.Authority, Method: o.Method, Cluster: o.Cluster, Endpoint: o.Endpoint,
			Attempts: o.Attempts, Code: o.Code, Message: o.Message,
			Duration: o.Duration, FirstByte: o.FirstByte,
			RequestBytes: o.RequestBytes, ResponseBytes: o.ResponseBytes, TraceParent: o.TraceParent,
		})
	}
}

// keepalive sets the relay's upstream keep-alive from the config.
func keepalive(o *h2relay.Options, k config.Keepalive) {
	o.KeepaliveInterval, o.KeepaliveTimeout, o.KeepaliveMinTime = k.Interval, k.Timeout, k.MinTime
	if k.Disabled {
		o.KeepaliveInterval = -1
	}
}

// callTimeouts sets the relay's connection and call time limits from
// the config, where an unset limit takes the relay's default and 0
// turns stream_idle or queue off.
func callTimeouts(o *h2relay.Options, t config.Timeouts) {
	o.HandshakeTimeout, o.IdleTimeout = t.Handshake, t.Idle
	o.IgnoreGRPCTimeout, o.MaxStreamDuration = t.IgnoreGRPCTimeout, t.MaxStreamDuration
	off := func(d *time.Duration) time.Duration {
		switch {
		case d == nil:
			return 0
		case *d == 0:
			return -1
		}
		return *d
	}
	o.StreamIdleTimeout, o.QueueTimeout = off(t.StreamIdle), off(t.Queue)
}

// relayBalancers maps every current cluster a relay listener reaches to
// its relay balancer.
func (g *Gateway) relayBalancers() map[string]h2relay.Balancer {
	out := make(map[string]h2relay.Balancer, len(g.clusters))
	for name, c := range g.clusters {
		if c.paths.Relay {
			out[name] = c.relay
		}
	}
	return out
}

// replayMemory is the process-wide cap on the relay's retry buffers,
// shared by every relay listener; made once, with the first.
func (g *Gateway) replayMemory() *h2relay.ByteBudget {
	if g.replayMem == nil {
		g.replayMem = h2relay.NewByteBudget(int64(g.cfg.Limits.RetryBufferTotal))
	}
	return g.replayMem
}

// router builds a listener's route table.
func (g *Gateway) router(lc config.Listener) *route.Table {
	r := route.NewTable(lc.DefaultCluster)
	for _, rt := range lc.Routes {
		if rt.Service != "" {
			r.AddService(rt.Service, rt.Cluster)
		} else {
			r.AddPrefix(rt.Prefix, rt.Cluster)
		}
	}
	return r
}

// routes builds a grpc-go listener's routing table over the current
// clusters.
func (g *Gateway) routes(lc config.Listener) *proxy.Routes {
	r := g.router(lc)
	clusters := make(map[string]*proxy.Cluster, len(g.clusters))
	for name, c := range g.clusters {
		if c.proxy != nil {
			clusters[name] = c.proxy
		}
	}
	return &proxy.Routes{Table: r, Clusters: clusters}
}

// registerAccessLog exports alog's line counts, labelled by listener.
func registerAccessLog(reg prometheus.Registerer, listener string, alog *accesslog.Logger) {
	labels := prometheus.Labels{"listener": listener}
	_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strait_access_log_lines_total",
		Help: "Access log lines written.", ConstLabels: labels}, func() float64 { return float64(alog.Written()) }))
	_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strait_access_log_dropped_total",
		Help: "Access log lines dropped because the writer's queue was full.", ConstLabels: labels},
		func() float64 { return float64(alog.Dropped()) }))
}

// ReopenAccessLogs makes every listener's access log reopen its file, as
// after a rotation by rename; strait does it on SIGHUP.
func (g *Gateway) ReopenAccessLogs() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.listeners {
		if l.alog != nil {
			l.alog.Reopen()
		}
	}
}
