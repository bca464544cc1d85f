package gateway

import (
	"strconv"

	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/proxy/h2relay"
	"github.com/straitproxy/strait/route"
)

// relayRouter is a relay listener's router: g.router's, and the retry
// and hedging policies of each route, matched the same way.
func (g *Gateway) relayRouter(lc config.Listener) h2relay.Router {
	r := g.router(lc)
	policies := map[string]*h2relay.RetryPolicy{}
	hedges := map[string]*h2relay.HedgePolicy{}
	byRoute := route.NewTable("")
	for i, rt := range lc.Routes {
		key := strconv.Itoa(i)
		if p := rt.Retry; p != nil {
			policies[key] = &h2relay.RetryPolicy{MaxAttempts: p.MaxAttempts, InitialBackoff: p.InitialBackoff,
				MaxBackoff: p.MaxBackoff, BackoffMultiplier: p.BackoffMultiplier, RetryableCodes: p.Codes()}
		}
		if p := rt.Hedge; p != nil {
			hedges[key] = &h2relay.HedgePolicy{MaxAttempts: p.MaxAttempts, Delay: p.Delay, DelayFactor: p.DelayFactor, NonFatalCodes: p.Codes()}
		}
		// Every route, so that a method takes its own route's policy
		// (none) and not a broader route's.
		if rt.Service != "" {
			byRoute.AddService(rt.Service, key)
		} else {
			byRoute.AddPrefix(rt.Prefix, key)
		}
	}
	switch {
	case len(hedges) > 0:
		return hedgeRouter{policyRouter{r, byRoute, policies}, hedges}
	case len(policies) > 0:
		return policyRouter{r, byRoute, policies}
	}
	return r
}

// policyRouter names the retry policy of a method's route: byRoute maps
// a method to the index of its route among the listener's (a service
// route beats a prefix, the longest prefix wins, as in routing).
type policyRouter struct {
	*route.Table
	byRoute  *route.Table
	policies map[string]*h2relay.RetryPolicy
}

// RetryPolicy is method's route's policy, nil without one.
func (r policyRouter) RetryPolicy(method string) *h2relay.RetryPolicy {
	if k, ok := r.byRoute.Route(method); ok {
		return r.policies[k]
	}
	return nil
}

// hedgeRouter is a policyRouter that also names the hedging policy of
// a method's route; a listener without hedging has none, so that its
// calls pay for no lookup.
type hedgeRouter struct {
	policyRouter
	hedges map[string]*h2relay.HedgePolicy
}

// HedgePolicy is method's route's hedging policy, nil without one.
func (r hedgeRouter) HedgePolicy(method string) *h2relay.HedgePolicy {
	if k, ok := r.byRoute.Route(method); ok {
		return r.hedges[k]
	}
	return nil
}
