package admin

import "time"

// demoSource is a fake StatusSource whose request counters grow on every
// read, in fixed proportions, except for endpoints whose breaker is open:
// traffic that flows and shifts away from an ejected endpoint. Endpoints
// that were ever ejected fail one request per read. It stands
// in for the gateway's guards and balancer stats.
type demoSource struct {
	fakeSource
	weights map[string]uint64
}

func newDemoSource() *demoSource {
	synced := time.Now().Add(-4 * time.Second)
	d := &demoSource{weights: map[string]uint64{
		"127.0.0.1:50051": 48, "127.0.0.1:50052": 40, "127.0.0.1:50053": 12,
		"10.42.0.17:9000": 30, "10.42.1.9:9000": 28,
		"legacy.internal:7000": 5,
	}}
	d.st = Status{Clusters: []ClusterStatus{
		{Name: "greeter", Source: SourceEtcd, State: StateSynced, LastSync: synced, SkippedValues: 1, Endpoints: []EndpointStatus{
			{Addr: "127.0.0.1:50051", EWMA: 0.00121, InFlight: 4, Breaker: BreakerClosed},
			{Addr: "127.0.0.1:50052", EWMA: 0.00142, InFlight: 3, Breaker: BreakerClosed},
			{Addr: "127.0.0.1:50053", EWMA: 0.0815, InFlight: 9, Breaker: BreakerClosed, Ejections: 2},
		}},
		{Name: "billing", Source: SourceK8s, State: StateSynced, LastSync: synced, Endpoints: []EndpointStatus{
			{Addr: "10.42.0.17:9000", EWMA: 0.0042, InFlight: 2, Breaker: BreakerClosed},
			{Addr: "10.42.1.9:9000", EWMA: 0.0039, InFlight: 1, Breaker: BreakerClosed},
		}},
		{Name: "legacy", Source: SourceStatic, State: StateSynced, LastSync: synced.Add(-time.Hour), Endpoints: []EndpointStatus{
			{Addr: "legacy.internal:7000", EWMA: 0.0182, Breaker: BreakerClosed},
		}},
	}}
	return d
}

// Status advances the counters, then returns a copy.
func (d *demoSource) Status() Status {
	d.update(func(st *Status) {
		for ci := range st.Clusters {
			for ei := range st.Clusters[ci].Endpoints {
				e := &st.Clusters[ci].Endpoints[ei]
				if e.Breaker != BreakerOpen {
					e.Requests += d.weights[e.Addr]
				}
				if e.Ejections > 0 {
					e.Failures++ // the endpoints ever ejected keep failing a little
				}
			}
		}
	})
	return d.fakeSource.Status()
}
