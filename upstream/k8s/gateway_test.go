package k8s_test

import (
	"context"
	"fmt"
	"github.com/straitproxy/strait/internal/testutil"
	"log/slog"
	"os"
	"testing"

	pb "google.golang.org/grpc/examples/helloworld/helloworld"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/straitproxy/strait/admin"
	"github.com/straitproxy/strait/config"
	"github.com/straitproxy/strait/gateway"
	"github.com/straitproxy/strait/internal/testutil/backend"
)

// TestGatewayWithConfigMapConfig runs strait's gateway on the config the
// Kubernetes manifests ship, moved to loopback and pointed at a test
// namespace: calls reach the backends that EndpointSlices name, and the
// status page says where the set came from.
func TestGatewayWithConfigMapConfig(t *testing.T) {
	cfg := configMapConfig(t)
	c := adminClient(t)
	ns := newNamespace(t, c)
	backends, _ := backend.StartN(t, "b", 2)
	for i, b := range backends {
		s := sliceOf(fmt.Sprintf("greeter-%d", i), "greeter", discoveryv1.AddressTypeFQDN, "grpc", port(t, b), ready("127.0.0.1"))
		if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cl := cfg.Clusters["greeter"]
	cl.K8s.Target = "k8s://" + ns + "/greeter:grpc"
	cl.K8s.Kubeconfig = adminKubeconfig(t)
	cfg.Clusters["greeter"] = cl
	cfg.Admin.Address = ""
	cfg.StateDir = t.TempDir()
	for i := range cfg.Listeners {
		cfg.Listeners[i].Address = "127.0.0.1:0"
	}

	g, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	testutil.WaitFor(t, mustHappen, "the gateway to be ready", func() bool { return g.Ready() == nil })
	addr, err := g.Addr(cfg.Listeners[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	client := pb.NewGreeterClient(throughAddr(t, addr))
	for range 20 {
		if _, err := client.SayHello(context.Background(), &pb.HelloRequest{Name: "k8s"}); err != nil {
			t.Fatal(err)
		}
	}
	// The default balancer favours the faster backend, so which one got
	// the calls is not checked; that strait knows both is.
	if n := backends[0].Calls() + backends[1].Calls(); n != 20 {
		t.Errorf("backends got %d calls, want 20", n)
	}
	for _, cs := range g.Status().Clusters {
		if cs.Source != admin.SourceK8s || len(cs.Endpoints) != 2 {
			t.Errorf("status of %s: source %s, %d endpoints; want k8s, 2", cs.Name, cs.Source, len(cs.Endpoints))
		}
	}
}

// configMapConfig loads the configuration in deploy/kubernetes/configmap.yaml
// with strait's own loader.
func configMapConfig(t *testing.T) *config.Config {
	t.Helper()
	data, err := os.ReadFile("../../deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(cm.Data["strait.yaml"]))
	if err != nil {
		t.Fatalf("the ConfigMap's strait.yaml: %v", err)
	}
	return cfg
}
