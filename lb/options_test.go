package lb

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/straitproxy/strait/health"
)

func TestValidateNamesField(t *testing.T) {
	cases := map[string]Options{
		"c.policy":                {Policy: "random"},
		"c.tau":                   {Tau: -time.Second},
		"c.rise":                  {Tau: time.Second, Rise: 2 * time.Second},
		"c.penalty":               {Penalty: -1},
		"c.slow_start":            {SlowStart: -1},
		"c.panic_threshold":       {PanicThreshold: 101},
		"c.health_check.timeout":  {HealthCheck: HealthCheckOptions{Timeout: -time.Second}},
		"c.breaker.failure_codes": {Breaker: health.BreakerOptions{FailureCodes: []string{"nope"}}},
	}
	for field, o := range cases {
		if err := o.Validate("c"); err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if err := (Options{Tau: 20 * time.Millisecond}).Validate("c"); err != nil {
		t.Errorf("a tau shorter than the default rise, rise unset: %v", err)
	}
	for _, p := range []string{"", PolicyP2CEWMA, PolicyRoundRobin, PolicyLeastRequest} {
		if err := (Options{Policy: p}).Validate("c"); err != nil {
			t.Errorf("policy %q: %v", p, err)
		}
	}
}

// TestServiceConfigAccepted hands every policy's service config to
// grpc.NewClient, which rejects an invalid default service config.
func TestServiceConfigAccepted(t *testing.T) {
	for _, o := range []Options{
		{},
		{Policy: PolicyRoundRobin},
		{Policy: PolicyLeastRequest, HealthCheck: HealthCheckOptions{Enabled: true, Service: "svc"}},
		{Tau: 3 * time.Second, Breaker: health.BreakerOptions{Timeout: 2 * time.Second, FailureCodes: []string{"INTERNAL"}}},
	} {
		sc, err := ServiceConfig("c", o)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithDefaultServiceConfig(sc),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		cc.Close()
	}
}

func TestServiceConfigRoundTrip(t *testing.T) {
	o := Options{Tau: 3 * time.Second, Prior: 7 * time.Millisecond, PanicThreshold: 70,
		Breaker: health.BreakerOptions{ConsecutiveFailures: 3, FailureCodes: []string{"INTERNAL"}}}
	sc, err := ServiceConfig("users", o)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		LoadBalancingConfig []map[string]json.RawMessage `json:"loadBalancingConfig"`
	}
	if err := json.Unmarshal([]byte(sc), &parsed); err != nil {
		t.Fatal(err)
	}
	cfg, err := builder{}.ParseConfig(parsed.LoadBalancingConfig[0][Name])
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.(*lbConfig)
	if got.Cluster != "users" || got.Tau != o.Tau || got.Prior != o.Prior || got.PanicThreshold != 70 ||
		got.Breaker.ConsecutiveFailures != 3 || got.Breaker.FailureCodes[0] != "INTERNAL" {
		t.Fatalf("round trip lost settings: %+v", got)
	}
	if _, err := (builder{}).ParseConfig([]byte(`{"tau":-1}`)); err == nil || !strings.Contains(err.Error(), "tau") {
		t.Fatalf("bad tau accepted: %v", err)
	}
}
