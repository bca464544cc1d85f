package config

// Paths says which data paths carry a cluster's traffic: the gateway
// builds a balancer only for these, and options that only one path
// reads are refused on a cluster that path never reaches.
type Paths struct {
	// Relay: a grpc listener with the relay data path routes to it.
	Relay bool
	// GRPC: a grpc listener with the grpc-go reference path routes to it.
	GRPC bool
	// TCP: a tcp listener sends its connections to it.
	TCP bool
}

// PathsTo says which data paths reach the named cluster, from the
// listeners' routes, default clusters and tcp clusters. Call it on a
// validated config (dataplanes defaulted).
func (c *Config) PathsTo(cluster string) Paths {
	var p Paths
	for _, l := range c.Listeners {
		if !l.reaches(cluster) {
			continue
		}
		switch {
		case l.Protocol == ProtocolTCP:
			p.TCP = true
		case l.Dataplane == DataplaneGRPC:
			p.GRPC = true
		default:
			p.Relay = true
		}
	}
	return p
}

// reaches says whether l sends any call or connection to cluster.
func (l Listener) reaches(cluster string) bool {
	if l.Cluster == cluster || l.DefaultCluster == cluster {
		return true
	}
	for _, r := range l.Routes {
		if r.Cluster == cluster {
			return true
		}
	}
	return false
}
