package gateway_test

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/gateway"
	"github.com/straitproxy/strait/internal/testutil/promtest"
	"github.com/straitproxy/strait/metrics"
)

// startMetered runs cfg with the data-path metrics installed, as strait
// serve does, and returns the gateway, the "edge" listener's address and
// the registry to scrape.
func startMetered(t *testing.T, cfg *config.Config) (*gateway.Gateway, string, *prometheus.Registry) {
	t.Helper()
	gw, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// The admin server's registry, as strait serve builds it: the
	// scrape-time strait_endpoint_* metrics come with it.
	reg := admin.New(admin.Options{Status: admin.StatusFunc(gw.Status), Ready: gw.Ready}).Registry()
	m, err := metrics.New(reg, gw.Route)
	if err != nil {
		t.Fatal(err)
	}
	gw.SetMetrics(m, reg)
	return gw, runGateway(t, gw), reg
}

// scraped returns the samples of the named family in reg whose labels
// include every pair in labels.
func scraped(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) []*dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if promtest.HasLabels(m, labels) {
				out = append(out, m)
			}
		}
	}
	return out
}

// sum adds up the counter or gauge samples scraped selects.
func sum(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	total := 0.0
	for _, m := range scraped(t, reg, name, labels) {
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return total
}
