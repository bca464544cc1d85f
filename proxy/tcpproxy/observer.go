package tcpproxy

import (
	"time"

	"github.com/straitproxy/strait/metrics"
)

// Observer hears of every dial and of each connection's bytes, for the
// data-path metrics. MetricsObserver adapts metrics.Metrics to it.
// Implementations are safe for concurrent use.
type Observer interface {
	// Dialed reports a dial to endpoint that took took. On success it
	// returns the counter of the new connection (nil if not counted).
	Dialed(endpoint string, took time.Duration, err error) ConnObserver
}

// ConnObserver counts one connection's bytes until Close.
type ConnObserver interface {
	// Sent counts n bytes copied from the client to the endpoint.
	Sent(n int)
	// Received counts n bytes copied from the endpoint to the client.
	Received(n int)
	// Close marks the connection closed.
	Close()
}

// MetricsObserver counts the connections of cluster in m, as the
// strait_tcp_* metrics.
func MetricsObserver(m *metrics.Metrics, cluster string) Observer {
	return metricsObserver{m: m, cluster: cluster}
}

type metricsObserver struct {
	m       *metrics.Metrics
	cluster string
}

func (o metricsObserver) Dialed(endpoint string, took time.Duration, err error) ConnObserver {
	if c := o.m.TCPDialed(o.cluster, endpoint, took, err); c != nil {
		return c
	}
	return nil // not a typed nil, which would look like a counter
}

// nopObserver stands in when Options.Observer is nil.
type nopObserver struct{}

func (nopObserver) Dialed(string, time.Duration, error) ConnObserver { return nopConn{} }

type nopConn struct{}

func (nopConn) Sent(int)     {}
func (nopConn) Received(int) {}
func (nopConn) Close()       {}
