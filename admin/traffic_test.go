package admin

import (
	"math"
	"testing"
	"time"
)

func oneCluster(a, b uint64) Status {
	return Status{Clusters: []ClusterStatus{{Name: "c", Endpoints: []EndpointStatus{
		{Addr: "a", Requests: a}, {Addr: "b", Requests: b},
	}}}}
}

func near(x, want float64) bool { return math.Abs(x-want) < 1e-9 }

func TestTrafficSharesAreRecent(t *testing.T) {
	tr := &traffic{window: 10 * time.Second}
	t0 := time.Unix(1000, 0)

	st := oneCluster(900, 100)
	tr.annotate(&st, t0)
	if e := st.Clusters[0].Endpoints; !near(e[0].Share, 0.9) || e[0].Rate != 0 {
		t.Fatalf("first sample: %+v, want all-time share 0.9 and no rate", e)
	}

	// In the next 2 s only b takes traffic: recent share is all b's.
	st = oneCluster(900, 300)
	tr.annotate(&st, t0.Add(2*time.Second))
	e := st.Clusters[0].Endpoints
	if !near(e[0].Share, 0) || !near(e[1].Share, 1) || !near(e[1].Rate, 100) {
		t.Fatalf("after 2 s: %+v, want b share 1 at 100/s", e)
	}

	// 11 s later the t0 sample is out of the window; t0+2s is the base.
	st = oneCluster(1000, 400)
	tr.annotate(&st, t0.Add(11*time.Second))
	e = st.Clusters[0].Endpoints
	if !near(e[0].Share, 0.5) || !near(e[0].Rate, 100.0/9) {
		t.Fatalf("after 11 s: %+v, want a share 0.5 over 9 s", e)
	}
}

func TestTrafficCounterReset(t *testing.T) {
	tr := &traffic{window: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	st := oneCluster(500, 500)
	tr.annotate(&st, t0)
	// a left and came back with a fresh counter.
	st = oneCluster(30, 530)
	tr.annotate(&st, t0.Add(time.Second))
	if e := st.Clusters[0].Endpoints; !near(e[0].Share, 0.5) {
		t.Fatalf("after reset: %+v, want a's 30 new requests counted", e)
	}
}

func TestTrafficBoundsSamples(t *testing.T) {
	tr := &traffic{window: time.Hour}
	t0 := time.Unix(1000, 0)
	for i := range 1000 {
		st := oneCluster(uint64(i), 0)
		tr.annotate(&st, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(tr.samples); n > maxSamples {
		t.Fatalf("%d samples kept, want at most %d", n, maxSamples)
	}
	for i := range 1000 {
		st := oneCluster(uint64(i), 0)
		tr.annotate(&st, t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(tr.samples); n > maxSamples {
		t.Fatalf("%d samples kept, want at most %d", n, maxSamples)
	}
}
