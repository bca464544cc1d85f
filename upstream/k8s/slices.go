package k8s

import (
	"net"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/straitproxy/strait/upstream"
)

// endpointsOf merges every slice of a service into one set: the addresses
// that are ready (a missing condition counts as ready, as the API says) and
// not terminating, each with the port that port selects in its own slice
// (a named port may map to different numbers in different slices).
func endpointsOf(slices []*discoveryv1.EndpointSlice, port string) []upstream.Endpoint {
	var out []upstream.Endpoint
	for _, s := range slices {
		p, ok := slicePort(s, port)
		if !ok {
			continue
		}
		for _, e := range s.Endpoints {
			if !usable(e) || len(e.Addresses) == 0 {
				continue
			}
			// The addresses of one endpoint are fungible; the API lets
			// clients use the first only.
			addr := net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(p)))
			out = append(out, upstream.Endpoint{Addr: addr, Metadata: metadataOf(s, e)})
		}
	}
	return upstream.Normalize(out)
}

// slicePort returns the port number to dial for the endpoints of s. A
// numeric target port is used as given, as go-zero does; a name is looked
// up among the slice's ports.
func slicePort(s *discoveryv1.EndpointSlice, port string) (int32, bool) {
	if n, err := strconv.Atoi(port); err == nil {
		return int32(n), true
	}
	for _, p := range s.Ports {
		if p.Name != nil && *p.Name == port && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

// usable reports whether traffic may go to e.
func usable(e discoveryv1.Endpoint) bool {
	c := e.Conditions
	if c.Terminating != nil && *c.Terminating {
		return false
	}
	return c.Ready == nil || *c.Ready
}

// metadataOf keeps what a status page or a zone-aware balancer may want.
func metadataOf(s *discoveryv1.EndpointSlice, e discoveryv1.Endpoint) map[string]string {
	md := map[string]string{"slice": s.Name}
	if e.Zone != nil {
		md["zone"] = *e.Zone
	}
	if e.NodeName != nil {
		md["node"] = *e.NodeName
	}
	if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
		md["pod"] = e.TargetRef.Name
	}
	return md
}
