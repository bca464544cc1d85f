// Package promtest counts what a Prometheus registry holds, for tests
// that check which series exist.
package promtest

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// CountSeries counts the series in reg that carry every label in labels
// (other labels may be present), in the families named in families, or
// in every family when none is named.
func CountSeries(t testing.TB, reg *prometheus.Registry, labels map[string]string, families ...string) int {
	t.Helper()
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range gathered {
		if len(families) > 0 && !slices.Contains(families, f.GetName()) {
			continue
		}
		for _, m := range f.GetMetric() {
			if HasLabels(m, labels) {
				n++
			}
		}
	}
	return n
}

// HasLabels says whether m carries every label in labels with its value.
func HasLabels(m *dto.Metric, labels map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(labels)
}
