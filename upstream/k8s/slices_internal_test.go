package k8s

import (
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/straitproxy/strait/upstream"
)

// Cases the API server tests cannot reach easily: IPv6 addresses, ports
// without a number, endpoints without addresses, duplicates across slices.
func TestEndpointsOfEdgeCases(t *testing.T) {
	name, port := "grpc", int32(8080)
	noTrue := false
	in := []*discoveryv1.EndpointSlice{
		{
			ObjectMeta:  metav1.ObjectMeta{Name: "v6"},
			AddressType: discoveryv1.AddressTypeIPv6,
			Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"fd00::1", "fd00::9"}},
				{Addresses: nil},
				{Addresses: []string{"fd00::2"}, Conditions: discoveryv1.EndpointConditions{Ready: &noTrue}},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "dup"},
			Ports:      []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
			Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "all-ports"},
			Ports:      []discoveryv1.EndpointPort{{Name: &name}},
			Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"fd00::3"}}},
		},
	}
	got := upstream.Addrs(endpointsOf(in, "grpc"))
	if want := []string{"[fd00::1]:8080"}; !slices.Equal(got, want) {
		t.Errorf("endpointsOf = %v, want %v", got, want)
	}
}
