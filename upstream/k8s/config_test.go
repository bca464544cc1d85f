package k8s_test

import (
	"strings"
	"testing"

	"github.com/straitproxy/strait/upstream/k8s"
)

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]k8s.Target{
		"k8s://shop/greeter:grpc": {Namespace: "shop", Service: "greeter", Port: "grpc"},
		"k8s://greeter:8080":      {Namespace: "default", Service: "greeter", Port: "8080"},
	} {
		got, err := k8s.ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "dns:///greeter:8080", "k8s://shop/greeter", "k8s://shop/greeter:",
		"k8s://shop/greeter:0", "k8s://shop/greeter:70000", "k8s://Shop/greeter:grpc",
		"k8s://shop/1greeter:grpc", "k8s://shop/greeter:Not_A_Port", "k8s://a/b/c:80",
	} {
		if got, err := k8s.ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) = %+v, want an error", in, got)
		}
	}
}

func TestValidateNamesField(t *testing.T) {
	err := k8s.Config{Target: "k8s://shop/greeter"}.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "target: ") {
		t.Errorf("Validate() = %v, want an error naming the target field", err)
	}
	if err := (k8s.Config{Target: "k8s://shop/greeter:grpc"}).Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}
