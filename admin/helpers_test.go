package admin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// running is an admin Server serving on a loopback listener.
type running struct {
	srv    *Server
	base   string
	client *http.Client
}

// start serves a Server built from opts on 127.0.0.1:0 and stops it,
// and every connection the test opened, when the test ends.
func start(t *testing.T, opts Options) *running {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(opts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &running{srv: srv, base: "http://" + lis.Addr().String(), client: &http.Client{Transport: tr}}
}

// get returns the status code and body of GET path.
func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := r.client.Get(r.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// fakeSource is a StatusSource the test changes at will. It stands in
// for the gateway's guards and balancer stats, which the gateway maps
// into Status; here only the admin side is under test.
type fakeSource struct {
	mu sync.Mutex
	st Status
}

func (f *fakeSource) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.st
	out.Clusters = make([]ClusterStatus, len(f.st.Clusters))
	for i, c := range f.st.Clusters {
		c.Endpoints = append([]EndpointStatus(nil), c.Endpoints...)
		out.Clusters[i] = c
	}
	return out
}

// update changes the state under the lock.
func (f *fakeSource) update(fn func(st *Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.st)
}

// errNotSynced is a readiness reason used by the tests.
var errNotSynced = errors.New("cluster greeter never synced")

func twoClusters(lastSync time.Time) Status {
	return Status{Clusters: []ClusterStatus{
		{
			Name: "greeter", Source: SourceEtcd, State: StateSynced, LastSync: lastSync,
			SkippedValues: 2, PanicActivations: 1,
			Endpoints: []EndpointStatus{
				{Addr: "127.0.0.1:7001", EWMA: 0.0012, InFlight: 3, Breaker: BreakerClosed, Requests: 100},
				{Addr: "127.0.0.1:7002", EWMA: 0.25, Breaker: BreakerOpen, Ejections: 4,
					LastError: "rpc error: code = Unavailable desc = connection refused", Requests: 20},
			},
		},
		{Name: "billing", Source: SourceK8s, State: StateStale, LastSync: lastSync,
			LastError: "watch: context deadline exceeded",
			Endpoints: []EndpointStatus{{Addr: "billing.default.svc:9000", Breaker: BreakerHalfOpen}}},
	}}
}
