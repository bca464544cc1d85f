package metrics

import "github.com/prometheus/client_golang/prometheus"

func (m *Metrics) newRetries() {
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strait_grpc_retries_total",
		Help: "Calls the relay sent again, by cluster and reason: refused, goaway, unsent (transparent: the endpoint did not process them), status, lost (the route's retry policy).",
	}, []string{"cluster", "reason"})
	m.retriesSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strait_grpc_retries_skipped_total",
		Help: "Retries the relay did not make, by cluster and reason: budget_exhausted (the cluster's retry budget), buffer_exceeded (the request outgrew its retry buffer).",
	}, []string{"cluster", "reason"})
}

// Retried counts a retry of a call to cluster for reason, or one not
// made when skipped.
func (m *Metrics) Retried(cluster, reason string, skipped bool) {
	if skipped {
		m.retriesSkipped.WithLabelValues(cluster, reason).Inc()
		return
	}
	m.retries.WithLabelValues(cluster, reason).Inc()
}
