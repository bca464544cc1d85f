package k8s

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is the Kubernetes part of a cluster's configuration.
type Config struct {
	// Target names the service and port: k8s://namespace/service:port, where
	// "namespace/" may be left out (it defaults to "default") and port is a
	// number or the name of an EndpointSlice port.
	Target string `yaml:"target"`
	// Kubeconfig is the path of a kubeconfig file, for running outside a
	// cluster. Empty means the in-cluster ServiceAccount configuration.
	Kubeconfig string `yaml:"kubeconfig"`
}

// Target is a parsed k8s:// target.
type Target struct {
	Namespace string
	Service   string
	// Port is a number or a port name, as written.
	Port string
}

const scheme = "k8s://"

// Validate reports the first problem with the configuration, naming the
// field.
func (c Config) Validate() error {
	if _, err := ParseTarget(c.Target); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	return nil
}

// ParseTarget parses k8s://namespace/service:port (go-zero's form).
func ParseTarget(s string) (Target, error) {
	rest, ok := strings.CutPrefix(s, scheme)
	if !ok {
		return Target{}, fmt.Errorf("%q: want %snamespace/service:port", s, scheme)
	}
	t := Target{Namespace: "default"}
	if ns, svc, found := strings.Cut(rest, "/"); found {
		t.Namespace, rest = ns, svc
	}
	svc, port, found := strings.Cut(rest, ":")
	if !found || port == "" {
		return Target{}, fmt.Errorf("%q: missing :port (a number or a port name)", s)
	}
	t.Service, t.Port = svc, port
	if err := t.check(); err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, err)
	}
	return t, nil
}

// check applies the API server's own name rules, so a typo fails at start-up
// rather than as a watch that never matches anything.
func (t Target) check() error {
	if errs := validation.IsDNS1123Label(t.Namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", t.Namespace, errs[0])
	}
	if errs := validation.IsDNS1035Label(t.Service); len(errs) > 0 {
		return fmt.Errorf("service %q: %s", t.Service, errs[0])
	}
	if n, err := strconv.Atoi(t.Port); err == nil {
		if n < 1 || n > 65535 {
			return errors.New("port number out of range 1-65535")
		}
		return nil
	}
	if errs := validation.IsValidPortName(t.Port); len(errs) > 0 {
		return fmt.Errorf("port name %q: %s", t.Port, errs[0])
	}
	return nil
}

// String returns the target in k8s:// form.
func (t Target) String() string {
	return scheme + t.Namespace + "/" + t.Service + ":" + t.Port
}
