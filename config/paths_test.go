package config_test

import (
	"testing"

	"github.com/straitproxy/strait/config"
)

func TestPathsToFollowsTheListeners(t *testing.T) {
	cfg, err := config.Parse([]byte(`
listeners:
  - {address: 127.0.0.1:9000, routes: [{service: a.A, cluster: both}], default_cluster: relayed}
  - {address: 127.0.0.1:9001, dataplane: grpc, routes: [{service: a.A, cluster: both}]}
  - {address: 127.0.0.1:9002, protocol: tcp, cluster: l4}
clusters:
  both: {endpoints: [h:1], balancer: {health_check: {enabled: true, interval: 2s, timeout: 2s}}}
  relayed: {endpoints: [h:1]}
  l4: {endpoints: [h:1]}
  unused: {endpoints: [h:1]}
`))
	if err != nil {
		t.Fatalf("a health check interval on a cluster the relay reaches too is valid: %v", err)
	}
	for name, want := range map[string]config.Paths{
		"both":    {Relay: true, GRPC: true},
		"relayed": {Relay: true},
		"l4":      {TCP: true},
		"unused":  {},
	} {
		if got := cfg.PathsTo(name); got != want {
			t.Errorf("PathsTo(%s) = %+v, want %+v", name, got, want)
		}
	}
}
