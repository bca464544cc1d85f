package k8s_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/straitproxy/strait/internal/testutil/kubetest"
	"github.com/straitproxy/strait/upstream/k8s"
)

// TestManifestsApply has the real API server validate and admit every
// manifest in deploy/kubernetes (server-side dry run).
func TestManifestsApply(t *testing.T) {
	c := adminClient(t)
	ns := newNamespace(t, c)
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	for _, f := range files {
		if err := kubetest.Apply(context.Background(), kube.API.Config(), ns, f, true); err != nil {
			t.Error(err)
		}
	}
}

// TestExampleTargetsValid checks the k8s clusters of the shipped
// configurations: the ConfigMap and configs/k8s.yaml.
func TestExampleTargetsValid(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../configs/k8s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"configmap": []byte(cm.Data["strait.yaml"]), "configs/k8s.yaml": example} {
		var cfg struct {
			Clusters map[string]k8s.Config `json:"clusters"`
		}
		if err := yaml.Unmarshal(doc, &cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cfg.Clusters) == 0 {
			t.Errorf("%s: no clusters", name)
		}
		for cluster, kc := range cfg.Clusters {
			if err := kc.Validate(); err != nil {
				t.Errorf("%s: clusters.%s: %v", name, cluster, err)
			}
		}
	}
}
