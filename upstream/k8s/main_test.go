package k8s_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/straitproxy/strait/internal/testutil/kubetest"
)

// kube is the real etcd + kube-apiserver every test here runs against.
var kube *kubetest.Cluster

func TestMain(m *testing.M) {
	c, err := kubetest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		os.Exit(1)
	}
	kube = c
	goleak.VerifyTestMain(kubetest.StopAfter(m, c),
		// klog starts its flush daemon at init, once per process.
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"))
}

// mustHappen bounds waits for something that must happen.
const mustHappen = 20 * time.Second

func adminClient(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(kube.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var nsSeq atomic.Int64

// newNamespace creates a fresh namespace for one test. No controller
// manager runs, so deleted namespaces would stay Terminating: they are
// left alone and thrown away with the cluster.
func newNamespace(t testing.TB, c kubernetes.Interface) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsSeq.Add(1), strings.ToLower(t.Name()))
	name = strings.NewReplacer("/", "-", "_", "-").Replace(name)
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.TrimRight(name, "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
	return name
}

// sliceOf builds an EndpointSlice of service svc with one port.
func sliceOf(name, svc string, typ discoveryv1.AddressType, portName string, port int32,
	eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: typ,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
	}
}

// ready is an endpoint with no conditions: ready, as the API says.
func ready(addr string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{addr}}
}

func withConditions(addr string, ready, terminating bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{addr},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Terminating: &terminating},
	}
}

// logBuffer collects log output for assertions. Safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
