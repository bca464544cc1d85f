package gateway

import (
	"strings"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/lb"
)

// SubscribeEjections reports every ejection in the balancer pools of any
// cluster (relay, grpc-go path or L4) to fn as it happens, for the admin
// history. fn runs under the pool's lock and must be quick.
func (g *Gateway) SubscribeEjections(fn func(admin.Ejection)) (cancel func()) {
	return subscribeEjections(lb.DefaultRegistry, fn)
}

func subscribeEjections(r *lb.Registry, fn func(admin.Ejection)) (cancel func()) {
	return r.Subscribe(func(ev lb.Event) {
		fn(admin.Ejection{Time: ev.At, Cluster: poolCluster(ev.Pool), Endpoint: ev.Addr, Kind: ejectionKind(ev.Kind)})
	})
}

// poolCluster is the cluster a pool name belongs to (see grpcPoolName
// and tcpPoolName).
func poolCluster(pool string) string {
	for _, suffix := range []string{grpcPoolName(""), tcpPoolName("")} {
		if c, ok := strings.CutSuffix(pool, suffix); ok {
			return c
		}
	}
	return pool
}

func ejectionKind(kind string) string {
	if kind == lb.EventHealthDrain {
		return admin.EjectionHealth
	}
	return admin.EjectionBreaker
}
