// Package lb balances calls over a cluster's endpoints: a peak-biased EWMA
// latency meter per endpoint, power of two choices over
// load = estimate × (in-flight + share) (see Endpoint.load), breaker gating with a panic threshold
// (from package health), and a grpc-go balancer registered as Name.
//
// The core (Pool, Set, Endpoint, Call) has no gRPC in it, so the L4 proxy
// and the simulator pick with it directly:
//
//	pool := lb.NewPool("users", opts)
//	pool.Update([]string{"10.0.0.1:80", "10.0.0.2:80"})
//	call, err := pool.Acquire()
//	... call.FirstResponse() ... call.End(verdict, err)
//
// Statistics live in the Pool, keyed by address, so rebuilding a Set or
// losing an endpoint for a while does not reset them.
package lb

// Name is the name the gRPC balancer is registered under, for
// loadBalancingConfig in a service config.
const Name = "p2c_ewma"
