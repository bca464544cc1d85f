package upstream

import "github.com/prometheus/client_golang/prometheus"

// SkippedValues counts registry values that could not be parsed into an
// endpoint and were left out of a set, by cluster and source kind. Sources
// count a value once, when they first see it under a key.
var SkippedValues = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "strait_discovery_skipped_values_total",
	Help: "Registry values skipped because they do not parse as an endpoint.",
}, []string{"cluster", "source"})

// Collectors returns the discovery metrics shared by all sources, for the
// admin server to register.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{SkippedValues}
}
