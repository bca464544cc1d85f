package k8s_test

import (
	"context"
	"github.com/straitproxy/strait/internal/testutil"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/straitproxy/strait/internal/testutil/kubetest"
)

const rbacManifest = "../../deploy/kubernetes/rbac.yaml"

// serviceAccountKubeconfig returns a kubeconfig that authenticates as
// ServiceAccount ns/name with a token from the TokenRequest API.
func serviceAccountKubeconfig(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	expiry := int64(3600)
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	path, err := kube.API.WriteKubeconfig(ns+"-"+name, tr.Status.Token)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRBACManifestGrantsDiscovery(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	if err := kubetest.Apply(ctx, kube.API.Config(), ns, rbacManifest, false); err != nil {
		t.Fatal(err)
	}
	s := sliceOf("svc-a", "svc", discoveryv1.AddressTypeIPv4, "grpc", 8080, ready("10.5.0.1"))
	if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := watch(t, "k8s://"+ns+"/svc:grpc", serviceAccountKubeconfig(t, c, ns, "strait"))
	w.waitSet(t, "10.5.0.1:8080")
	if strings.Contains(w.logs.String(), "kubernetes RBAC:") {
		t.Errorf("bound ServiceAccount logged an RBAC error:\n%s", w.logs.String())
	}
}

func TestRBACDenialIsPlain(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}}
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := watch(t, "k8s://"+ns+"/svc:grpc", serviceAccountKubeconfig(t, c, ns, "unbound"))
	// The informer retries with back-off; wait for several denials so the
	// test sees that they are logged once, not once each.
	testutil.WaitFor(t, mustHappen, "repeated denials", func() bool {
		snap, pubs := w.snapshot()
		return snap.LastErr != nil && pubs >= 5
	})
	if snap, _ := w.snapshot(); len(snap.Endpoints) != 0 || snap.State.String() == "synced" {
		t.Errorf("denied discovery served %v (%s)", snap.Endpoints, snap.State)
	}
	var lines []string
	for line := range strings.Lines(w.logs.String()) {
		if strings.Contains(line, "kubernetes RBAC:") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one RBAC line, got %d:\n%s", len(lines), w.logs.String())
	}
	t.Logf("logged: %s", lines[0])
	for _, want := range []string{
		"ServiceAccount " + ns + "/unbound may not ",
		"endpointslices.discovery.k8s.io in namespace \\\"" + ns + "\\\"",
		"deploy/kubernetes/rbac.yaml",
	} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("RBAC line lacks %q:\n%s", want, lines[0])
		}
	}

	// Granting the role later is picked up without a restart.
	if err := kubetest.Apply(ctx, kube.API.Config(), ns, rbacManifest, false); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "unbound-discovery"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "strait-discovery"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "unbound"}},
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitSetWithin(t, time.Minute)
}
