package k8s

import (
	"context"
	"fmt"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// sliceClient lists and watches EndpointSlices through a REST client whose
// scheme knows discovery/v1 only: client-go's typed clients register every
// API group, which adds some 24 MB to strait's binary.
type sliceClient struct {
	rest   *rest.RESTClient
	params runtime.ParameterCodec
}

func newSliceClient(rc *rest.Config) (*sliceClient, error) {
	s := runtime.NewScheme()
	if err := discoveryv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("kubernetes scheme: %w", err)
	}
	// Watch events and Status errors are decoded as unversioned meta types.
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	cfg := rest.CopyConfig(rc)
	cfg.APIPath = "/apis"
	cfg.GroupVersion = &discoveryv1.SchemeGroupVersion
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	client, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &sliceClient{rest: client, params: runtime.NewParameterCodec(s)}, nil
}

func (c *sliceClient) list(ctx context.Context, ns string, o metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	out := &discoveryv1.EndpointSliceList{}
	err := c.rest.Get().Namespace(ns).Resource("endpointslices").
		VersionedParams(&o, c.params).Do(ctx).Into(out)
	return out, err
}

func (c *sliceClient) watch(ctx context.Context, ns string, o metav1.ListOptions) (watch.Interface, error) {
	o.Watch = true
	return c.rest.Get().Namespace(ns).Resource("endpointslices").
		VersionedParams(&o, c.params).Watch(ctx)
}
