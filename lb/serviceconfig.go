package lb

import (
	"encoding/json"
	"fmt"

	// Registers least_request_experimental, selectable per cluster.
	_ "google.golang.org/grpc/balancer/leastrequest"
	// Registers grpc-go's client-side health checking, which
	// healthCheckConfig turns on.
	_ "google.golang.org/grpc/health"
)

// leastRequestName is grpc-go's registered name for least_request.
const leastRequestName = "least_request_experimental"

// ServiceConfig returns the service config JSON that makes a
// grpc.ClientConn balance like o says, for grpc.WithDefaultServiceConfig.
// cluster names the pool the admin page and metrics show. o must have
// passed Validate.
func ServiceConfig(cluster string, o Options) (string, error) {
	var policy map[string]any
	switch o.WithDefaults().Policy {
	case PolicyP2CEWMA:
		policy = map[string]any{Name: lbConfig{Cluster: cluster, Options: o}}
	case PolicyRoundRobin:
		policy = map[string]any{PolicyRoundRobin: struct{}{}}
	case PolicyLeastRequest:
		policy = map[string]any{leastRequestName: map[string]int{"choiceCount": 2}}
	default:
		return "", fmt.Errorf("lb: cluster %s: unknown policy %q", cluster, o.Policy)
	}
	sc := map[string]any{"loadBalancingConfig": []any{policy}}
	if o.HealthCheck.Enabled {
		sc["healthCheckConfig"] = map[string]string{"serviceName": o.HealthCheck.Service}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("lb: cluster %s: service config: %w", cluster, err)
	}
	return string(b), nil
}
