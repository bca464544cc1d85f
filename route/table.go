// Package route maps a gRPC method path to the name of the cluster that
// serves it. Both data paths, the HTTP/2 relay and the grpc-go reference
// path, route calls through a Table.
package route

import (
	"slices"
	"strings"
)

// Table maps a method path, "/pkg.Service/Method", to a cluster name.
// It is immutable once built and safe for concurrent use.
type Table struct {
	services map[string]string
	prefixes []prefixRoute // longest first
	fallback string
}

type prefixRoute struct {
	prefix, cluster string
}

// NewTable returns an empty Table whose unmatched calls go to fallback
// ("" for none).
func NewTable(fallback string) *Table {
	return &Table{services: map[string]string{}, fallback: fallback}
}

// AddService routes every method of the full service name to cluster.
func (r *Table) AddService(service, cluster string) {
	if _, dup := r.services[service]; !dup {
		r.services[service] = cluster
	}
}

// AddPrefix routes methods whose path starts with prefix to cluster. The
// longest matching prefix wins; a service route beats any prefix.
func (r *Table) AddPrefix(prefix, cluster string) {
	r.prefixes = append(r.prefixes, prefixRoute{prefix, cluster})
	slices.SortStableFunc(r.prefixes, func(a, b prefixRoute) int { return len(b.prefix) - len(a.prefix) })
}

// Route returns the cluster for method, or false when none matches.
func (r *Table) Route(method string) (string, bool) {
	if svc, ok := serviceOf(method); ok {
		if c, ok := r.services[svc]; ok {
			return c, true
		}
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(method, p.prefix) {
			return p.cluster, true
		}
	}
	return r.fallback, r.fallback != ""
}

func serviceOf(method string) (string, bool) {
	if !strings.HasPrefix(method, "/") {
		return "", false
	}
	i := strings.LastIndexByte(method, '/')
	if i <= 0 {
		return "", false
	}
	return method[1:i], true
}
