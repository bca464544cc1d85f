package k8s

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// RBACManifest is where the permissions strait needs are written down.
const RBACManifest = "deploy/kubernetes/rbac.yaml"

// forbiddenText picks the user and verb out of the API server's Forbidden
// message ("User \"x\" cannot list resource ...").
var forbiddenText = regexp.MustCompile(`User "([^"]*)" cannot (\S+) resource`)

// rbacNotes turns Forbidden answers into one plain log line per identity:
// the informer retries for ever (and asks with both watch and list), but
// the fix is the same one binding.
type rbacNotes struct {
	log       *slog.Logger
	namespace string

	mu   sync.Mutex
	seen map[string]bool
}

func newRBACNotes(log *slog.Logger, namespace string) *rbacNotes {
	return &rbacNotes{log: log, namespace: namespace, seen: map[string]bool{}}
}

// note logs err if it is a Forbidden answer for an identity not logged
// before.
func (n *rbacNotes) note(verb string, err error) {
	if !apierrors.IsForbidden(err) {
		return
	}
	who := "this client"
	if m := forbiddenText.FindStringSubmatch(err.Error()); m != nil {
		who, verb = describeUser(m[1]), m[2]
	}
	n.mu.Lock()
	seen := n.seen[who]
	n.seen[who] = true
	n.mu.Unlock()
	if seen {
		return
	}
	n.log.Error(fmt.Sprintf(
		"kubernetes RBAC: %s may not %s endpointslices.discovery.k8s.io in namespace %q; "+
			"grant get, list and watch with %s",
		who, verb, n.namespace, RBACManifest))
}

// describeUser names a ServiceAccount the way its manifest does.
func describeUser(user string) string {
	if rest, ok := strings.CutPrefix(user, "system:serviceaccount:"); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok {
			return fmt.Sprintf("ServiceAccount %s/%s", ns, name)
		}
	}
	return fmt.Sprintf("user %q", user)
}
