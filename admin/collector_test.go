package admin

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMetricsFromStatus scrapes /metrics and checks that the scrape-time
// metrics follow the status source, including a change between scrapes.
func TestMetricsFromStatus(t *testing.T) {
	src := &fakeSource{st: twoClusters(time.Now().Add(-30 * time.Second))}
	r := start(t, Options{Status: src, Version: "v1.2.3"})

	_, body := r.get(t, "/metrics")
	for _, want := range []string{
		`strait_build_info{goversion="go`,
		`version="v1.2.3"} 1`,
		`strait_endpoint_ewma_seconds{cluster="greeter",endpoint="127.0.0.1:7002"} 0.25`,
		`strait_endpoint_in_flight_requests{cluster="greeter",endpoint="127.0.0.1:7001"} 3`,
		`strait_endpoint_breaker_state{cluster="greeter",endpoint="127.0.0.1:7002",state="open"} 1`,
		`strait_endpoint_breaker_state{cluster="greeter",endpoint="127.0.0.1:7002",state="closed"} 0`,
		`strait_endpoint_breaker_state{cluster="billing",endpoint="billing.default.svc:9000",state="half-open"} 1`,
		`strait_endpoint_ejections_total{cluster="greeter",endpoint="127.0.0.1:7002"} 4`,
		`strait_cluster_endpoints{cluster="greeter"} 2`,
		`strait_cluster_panic_mode{cluster="greeter"} 0`,
		`strait_cluster_panic_activations_total{cluster="greeter"} 1`,
		`strait_discovery_state{cluster="billing",source="k8s",state="stale"} 1`,
		`strait_discovery_state{cluster="greeter",source="etcd",state="synced"} 1`,
		`strait_discovery_skipped_values_total{cluster="greeter",source="etcd"} 2`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	age := regexp.MustCompile(`strait_discovery_last_sync_age_seconds\{cluster="greeter",source="etcd"\} (3\d\.\d*|30)`)
	if !age.MatchString(body) {
		t.Errorf("sync age not ~30 s:\n%s", grep(body, "last_sync_age"))
	}

	src.update(func(st *Status) {
		st.Clusters[0].Endpoints[1].Breaker = BreakerClosed
		st.Clusters[0].Panic = true
	})
	_, body = r.get(t, "/metrics")
	for _, want := range []string{
		`strait_endpoint_breaker_state{cluster="greeter",endpoint="127.0.0.1:7002",state="closed"} 1`,
		`strait_cluster_panic_mode{cluster="greeter"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("after the change /metrics lacks %q", want)
		}
	}
}

func TestMetricsNeverSyncedHasNoAge(t *testing.T) {
	src := &fakeSource{st: Status{Clusters: []ClusterStatus{{Name: "c", Source: SourceStatic, State: StateNeverSynced}}}}
	r := start(t, Options{Status: src})
	code, body := r.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	if strings.Contains(body, `strait_discovery_last_sync_age_seconds{`) {
		t.Fatal("an age for a cluster that never synced")
	}
	if !strings.Contains(body, `strait_discovery_state{cluster="c",source="static",state="never_synced"} 1`) {
		t.Fatal("never_synced state missing")
	}
}

func grep(body, sub string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
