package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/straitproxy/strait/proxy/h2relay"
)

// budgetCollector exports the relay listeners' shared buffer budget:
// its use and each load-shedding action it took.
type budgetCollector struct{ b *h2relay.Budget }

var (
	budgetUsedDesc = prometheus.NewDesc("strait_relay_buffered_bytes",
		"Bytes the relay listeners hold for peers (queued DATA and writes under way).", nil, nil)
	budgetLimitDesc = prometheus.NewDesc("strait_relay_buffer_budget_bytes",
		"The relay listeners' buffer budget (limits.buffer_budget).", nil, nil)
	budgetActionsDesc = prometheus.NewDesc("strait_relay_overload_actions_total",
		"Load shed because the buffer budget was nearly spent, by action.", []string{"action"}, nil)
)

func (c budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- budgetUsedDesc
	ch <- budgetLimitDesc
	ch <- budgetActionsDesc
}

func (c budgetCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.b.Stats()
	ch <- prometheus.MustNewConstMetric(budgetUsedDesc, prometheus.GaugeValue, float64(s.Used))
	ch <- prometheus.MustNewConstMetric(budgetLimitDesc, prometheus.GaugeValue, float64(s.Limit))
	for _, a := range []struct {
		name string
		n    int64
	}{{"stop_accepting", s.AcceptPauses}, {"refuse_stream", s.RefusedStreams}, {"goaway_idle", s.IdleGoAways}, {"reset_stream", s.StreamResets}} {
		ch <- prometheus.MustNewConstMetric(budgetActionsDesc, prometheus.CounterValue, float64(a.n), a.name)
	}
}
