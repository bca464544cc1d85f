// Package metrics holds the Prometheus metrics that strait's data paths
// update as traffic flows: calls (StartCall for the relay, a gRPC
// stats.Handler for the grpc-go path) and counters for L4 connections. What the balancer, breakers and
// discovery already count is read at scrape time by the admin package
// instead, so nothing is counted twice.
//
// All names follow Prometheus conventions: the strait_ prefix, base
// units, _total on counters.
package metrics

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values used when the real value is unknown or would let clients
// grow the number of series without bound.
const (
	// NoCluster labels calls that matched no route.
	NoCluster = "none"
	// NoEndpoint labels calls that never reached an endpoint.
	NoEndpoint = "none"
	// Unrouted replaces the method of calls that matched no route: the
	// proxy accepts any method name, so clients choose these names.
	Unrouted = "unrouted"
	// OtherMethod replaces routed method names beyond MaxMethods.
	OtherMethod = "other"
)

// MaxMethods bounds the distinct method label values one Metrics keeps.
const MaxMethods = 1000

// Router maps a full gRPC method name to its cluster; ok is false when
// no route matches. It must be safe for concurrent use.
type Router func(fullMethod string) (cluster string, ok bool)

// Metrics is the data path's collectors. Create one with New and share
// it; every method is safe for concurrent use.
type Metrics struct {
	route Router

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec

	tcpOpened   *prometheus.CounterVec
	tcpActive   *prometheus.GaugeVec
	tcpFailed   *prometheus.CounterVec
	tcpSent     *prometheus.CounterVec
	tcpReceived *prometheus.CounterVec
	tcpDial     *prometheus.HistogramVec

	retries, retriesSkipped *prometheus.CounterVec

	// methods caches label children per method so that the per-call path
	// does no vec lookups. Copy on write: readers never lock.
	methods   atomic.Pointer[methodCache]
	methodsMu sync.Mutex

	// endpoints lists the endpoints with series, for RetainEndpoints.
	endpoints endpointSet
}

// latencyBuckets span a fast in-memory backend (~100 µs) to slow calls.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New registers strait's data-path metrics with reg. route labels each
// call with its cluster; after the routes change (a reload), call
// RoutesChanged.
func New(reg prometheus.Registerer, route Router) (*Metrics, error) {
	m := &Metrics{route: route}
	m.newGRPC()
	m.newTCP()
	m.newRetries()
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight,
		m.tcpOpened, m.tcpActive, m.tcpFailed, m.tcpSent, m.tcpReceived, m.tcpDial,
		m.retries, m.retriesSkipped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	m.RoutesChanged()
	return m, nil
}

func (m *Metrics) newGRPC() {
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strait_grpc_requests_total",
		Help: "gRPC calls the proxy finished, by cluster, endpoint, method and status code.",
	}, []string{"cluster", "endpoint", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "strait_grpc_request_duration_seconds",
		Help:    "Time from a call's start to its end as the proxy saw it (a stream's whole life).",
		Buckets: latencyBuckets,
	}, []string{"cluster", "method"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "strait_grpc_requests_in_flight",
		Help: "gRPC calls (streams included) open in the proxy.",
	}, []string{"cluster", "method"})
}

// RoutesChanged forgets which cluster each method went to, so that the
// next calls are labelled by the current routes.
func (m *Metrics) RoutesChanged() {
	m.methodsMu.Lock()
	defer m.methodsMu.Unlock()
	m.methods.Store(&methodCache{
		byName:   map[string]*methodMetrics{},
		others:   map[string]*methodMetrics{},
		unrouted: m.newMethodMetrics(NoCluster, Unrouted),
	})
}
