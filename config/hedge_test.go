package config_test

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/config"
	"google.golang.org/grpc/codes"
)

// A hedge policy's omitted fields take their defaults, and its code
// names become codes.
func TestParseHedge(t *testing.T) {
	c, err := config.Parse([]byte(`
listeners:
  - address: 127.0.0.1:9000
    routes:
      - {service: a.B, cluster: user, idempotent: true, hedge: {non_fatal_status_codes: [unavailable]}}
      - {service: a.C, cluster: user, idempotent: true, hedge: {max_attempts: 3, delay: 20ms, delay_factor: 2.5}}
clusters: {user: {endpoints: ['h:1']}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, q := c.Listeners[0].Routes[0].Hedge, c.Listeners[0].Routes[1].Hedge
	if p.MaxAttempts != config.DefaultHedgeMaxAttempts || p.Delay != config.DefaultHedgeDelay {
		t.Fatalf("defaults: %+v", p)
	}
	if cs := p.Codes(); len(cs) != 1 || cs[0] != codes.Unavailable {
		t.Fatalf("codes = %v", cs)
	}
	if q.MaxAttempts != 3 || q.Delay != 20*time.Millisecond || q.DelayFactor != 2.5 || len(q.Codes()) != 0 {
		t.Fatalf("set: %+v", q)
	}
}
