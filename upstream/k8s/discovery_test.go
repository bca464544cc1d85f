package k8s_test

import (
	"context"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/straitproxy/strait/internal/testutil/kubetest"
)

// propagationLimit is twice the goal of 1 s: the measured delays are
// logged, and a limit this loose still catches a fallback to polling.
const propagationLimit = 2 * time.Second

func adminKubeconfig(t *testing.T) string {
	t.Helper()
	path, err := kube.API.WriteKubeconfig("admin", kubetest.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSetFollowsSlices(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	api := c.DiscoveryV1().EndpointSlices(ns)
	ctx := context.Background()
	w := watch(t, "k8s://"+ns+"/greeter:grpc", adminKubeconfig(t))
	w.waitSet(t) // no slices yet: a synced, empty set

	s := sliceOf("greeter-a", "greeter", discoveryv1.AddressTypeIPv4, "grpc", 8080,
		ready("10.1.0.1"), ready("10.1.0.2"))
	var delays []time.Duration
	step := func(what string, change func() error, want ...string) {
		t.Helper()
		w.forget(want...)
		start := time.Now()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		d := w.waitSet(t, want...).Sub(start)
		t.Logf("%-10s propagated in %s", what, d.Round(time.Microsecond))
		if d > propagationLimit {
			t.Errorf("%s took %s to reach the set, limit %s", what, d, propagationLimit)
		}
		delays = append(delays, d)
	}
	step("create", func() (err error) {
		s, err = api.Create(ctx, s, metav1.CreateOptions{})
		return err
	}, "10.1.0.1:8080", "10.1.0.2:8080")
	step("scale up", func() (err error) {
		s.Endpoints = append(s.Endpoints, ready("10.1.0.3"))
		s, err = api.Update(ctx, s, metav1.UpdateOptions{})
		return err
	}, "10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080")
	step("scale down", func() (err error) {
		s.Endpoints = s.Endpoints[2:]
		s, err = api.Update(ctx, s, metav1.UpdateOptions{})
		return err
	}, "10.1.0.3:8080")
	step("delete", func() error {
		return api.Delete(ctx, s.Name, metav1.DeleteOptions{})
	})
	t.Logf("propagation delays (goal < 1s): %v", delays)
	// Empty at the start and after the delete: each logged once, at warn.
	if n := strings.Count(w.logs.String(), "level=WARN msg=\"kubernetes reports no ready endpoints"); n != 2 {
		t.Errorf("want 2 warnings about an empty set, got %d:\n%s", n, w.logs.String())
	}
}

func TestTwoSlicesWithNamedPort(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	api := c.DiscoveryV1().EndpointSlices(ns)
	ctx := context.Background()
	// The named port maps to a different number in each slice, and a
	// slice without the name contributes nothing.
	for _, s := range []*discoveryv1.EndpointSlice{
		sliceOf("svc-a", "svc", discoveryv1.AddressTypeIPv4, "grpc", 8080, ready("10.2.0.1")),
		sliceOf("svc-b", "svc", discoveryv1.AddressTypeIPv4, "grpc", 9090, ready("10.2.0.2"), ready("10.2.0.3")),
		sliceOf("svc-c", "svc", discoveryv1.AddressTypeIPv4, "metrics", 9100, ready("10.2.0.4")),
		sliceOf("other", "other", discoveryv1.AddressTypeIPv4, "grpc", 8080, ready("10.2.0.5")),
	} {
		if _, err := api.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w := watch(t, "k8s://"+ns+"/svc:grpc", adminKubeconfig(t))
	w.waitSet(t, "10.2.0.1:8080", "10.2.0.2:9090", "10.2.0.3:9090")

	if err := api.Delete(ctx, "svc-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitSet(t, "10.2.0.1:8080")
}

func TestNumericPortAndFQDN(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	api := c.DiscoveryV1().EndpointSlices(ns)
	ctx := context.Background()
	// The API server refuses loopback IPs in IPv4 slices but takes an FQDN
	// slice whose address is 127.0.0.1: strait dials the name as given.
	for _, s := range []*discoveryv1.EndpointSlice{
		sliceOf("svc-ip", "svc", discoveryv1.AddressTypeIPv4, "grpc", 8080, ready("10.4.0.1")),
		sliceOf("svc-fqdn", "svc", discoveryv1.AddressTypeFQDN, "grpc", 8080, ready("127.0.0.1"), ready("b.example.test")),
	} {
		if _, err := api.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A numeric port is dialled as given, whatever the slices say (go-zero).
	w := watch(t, "k8s://"+ns+"/svc:7000", adminKubeconfig(t))
	w.waitSet(t, "10.4.0.1:7000", "127.0.0.1:7000", "b.example.test:7000")
}

func TestNotReadyAndTerminatingExcluded(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	api := c.DiscoveryV1().EndpointSlices(ns)
	ctx := context.Background()
	s, err := api.Create(ctx, sliceOf("svc-a", "svc", discoveryv1.AddressTypeIPv4, "grpc", 8080,
		ready("10.3.0.1"),
		withConditions("10.3.0.2", true, false),
		withConditions("10.3.0.3", false, false),
		withConditions("10.3.0.4", true, true),
		withConditions("10.3.0.5", false, true),
	), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, "k8s://"+ns+"/svc:grpc", adminKubeconfig(t))
	w.waitSet(t, "10.3.0.1:8080", "10.3.0.2:8080")

	// The not-ready endpoint becomes ready; a ready one starts terminating.
	s.Endpoints[2] = withConditions("10.3.0.3", true, false)
	s.Endpoints[1] = withConditions("10.3.0.2", false, true)
	if _, err := api.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitSet(t, "10.3.0.1:8080", "10.3.0.3:8080")
}
