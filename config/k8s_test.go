package config_test

import (
	"testing"

	"github.com/straitproxy/strait/config"
)

func TestKubernetesCluster(t *testing.T) {
	lis := "listeners: [{address: 127.0.0.1:9000, default_cluster: user}]\n"
	c, err := config.Parse([]byte(lis + "clusters: {user: {target: 'k8s://shop/user:grpc', kubeconfig: /k/config}}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Clusters["user"].K8s; got.Target != "k8s://shop/user:grpc" || got.Kubeconfig != "/k/config" {
		t.Errorf("k8s config = %+v", got)
	}
	for yaml, want := range map[string]string{
		"clusters: {user: {target: 'k8s://shop/user'}}":                          `config: clusters.user.target: "k8s://shop/user": missing :port (a number or a port name)`,
		"clusters: {user: {target: 'k8s://shop/user:grpc', endpoints: ['h:1']}}": `config: clusters.user: has more than one source: keep one of endpoints, etcd and target`,
	} {
		_, err := config.Parse([]byte(lis + yaml))
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%s)\n got: %v\nwant: %s", yaml, err, want)
		}
	}
}
