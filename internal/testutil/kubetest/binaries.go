// Package kubetest runs a real etcd and kube-apiserver on loopback for the
// tests of strait's Kubernetes discovery. No control plane is packaged for
// the build machines, so hack/k8s-binaries.sh builds both binaries through
// the Go module proxy and caches them by version; this package finds them
// there. A missing binary is an error, never a reason to skip: the tests
// must fail rather than pass without having run.
package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
)

// Versions of the binaries the tests run; hack/k8s-binaries.sh builds the
// same ones.
const (
	KubeVersion = "v1.37.2"
	EtcdVersion = "v3.7.3"
)

// binary returns the path of a cached binary, or the one named by env.
func binary(env, name, version string) (string, error) {
	path := os.Getenv(env)
	if path == "" {
		dir := os.Getenv("STRAIT_BIN_CACHE")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("%s: no $STRAIT_BIN_CACHE and no home directory: %w", name, err)
			}
			dir = filepath.Join(home, ".cache", "strait", "bin")
		}
		path = filepath.Join(dir, name+"-"+version)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s %s not found (%w): run `bash hack/k8s-binaries.sh` to build it, "+
			"or set %s to its path", name, version, err, env)
	}
	return path, nil
}
