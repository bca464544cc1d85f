package admin

import "time"

// StatusSource reports the live state of every cluster. The caller
// implements it over its guards and balancer stats. Status is called on
// every /status.json request and every Prometheus scrape, from any
// goroutine, so it must be safe for concurrent use and cheap.
type StatusSource interface {
	Status() Status
}

// StatusFunc adapts a function to StatusSource.
type StatusFunc func() Status

// Status calls f.
func (f StatusFunc) Status() Status { return f() }

// Status is the state of every cluster at one moment.
type Status struct {
	// Time is when the snapshot was taken; the admin server fills it.
	Time      time.Time       `json:"time"`
	Clusters  []ClusterStatus `json:"clusters"`
	WindowSec float64         `json:"window_seconds"`
}

// Discovery source kinds, for ClusterStatus.Source.
const (
	SourceStatic = "static"
	SourceEtcd   = "etcd"
	SourceK8s    = "k8s"
)

// Discovery states, for ClusterStatus.State.
const (
	// StateSynced: the source delivered a set and is healthy.
	StateSynced = "synced"
	// StateStale: the source is failing; the last good set is served.
	StateStale = "stale"
	// StateNeverSynced: no set has arrived yet (a saved set may serve).
	StateNeverSynced = "never_synced"
)

// ClusterStatus is one cluster: where its endpoints come from and how
// each is doing.
type ClusterStatus struct {
	Name string `json:"name"`
	// Source is the discovery kind: SourceStatic, SourceEtcd or SourceK8s.
	Source string `json:"source"`
	// State is StateSynced, StateStale or StateNeverSynced.
	State string `json:"state"`
	// DataPaths names the data paths that reach the cluster ("relay",
	// "grpc", "tcp"); the endpoints' balancer numbers cover them all.
	DataPaths []string `json:"data_paths,omitempty"`
	// LastSync is when the source last delivered a good set; zero if never.
	LastSync time.Time `json:"last_sync,omitzero"`
	// LastError is the source's most recent error, empty when healthy.
	LastError string `json:"last_error,omitempty"`
	// SkippedValues counts registry values dropped as unparsable, ever.
	SkippedValues uint64 `json:"skipped_values"`
	// Panic is true while so many endpoints are ejected that the balancer
	// ignores ejection.
	Panic bool `json:"panic"`
	// PanicActivations counts entries into panic mode, ever.
	PanicActivations uint64           `json:"panic_activations"`
	Endpoints        []EndpointStatus `json:"endpoints"`
}

// Breaker states, for EndpointStatus.Breaker.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// EndpointStatus is one endpoint of a cluster.
type EndpointStatus struct {
	Addr string `json:"addr"`
	// EWMA is the balancer's latency estimate, in seconds.
	EWMA float64 `json:"ewma_seconds"`
	// InFlight is the number of open requests (streams included).
	InFlight int64 `json:"in_flight"`
	// Breaker is BreakerClosed, BreakerOpen or BreakerHalfOpen.
	Breaker string `json:"breaker"`
	// Ejections counts how often the breaker opened, ever.
	Ejections uint64 `json:"ejections"`
	// LastError is the most recent failure seen on this endpoint.
	LastError string `json:"last_error,omitempty"`
	// Requests counts requests (or connections, for L4) sent, ever.
	Requests uint64 `json:"requests"`
	// Failures counts the requests that failed, ever (the breaker's
	// verdict: what counts toward ejection).
	Failures uint64 `json:"failures"`
	// Share is this endpoint's fraction (0..1) of the cluster's requests
	// over the recent window. The admin server computes it from
	// successive Requests values; whatever the source sets is replaced.
	Share float64 `json:"share"`
	// Rate is requests per second over the recent window, computed by
	// the admin server like Share.
	Rate float64 `json:"rate"`
}
