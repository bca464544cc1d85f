package k8s_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/straitproxy/strait/internal/testutil/kubetest"
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
