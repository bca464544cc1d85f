package metrics

import "maps"

// methodCache is one generation of cached label children; RoutesChanged
// starts a new one.
type methodCache struct {
	// byName holds routed methods, at most MaxMethods. Never written
	// after it is published.
	byName map[string]*methodMetrics
	// others holds, per cluster, the children shared by routed methods
	// past the cap. Only touched under Metrics.methodsMu.
	others map[string]*methodMetrics
	// unrouted is shared by every call that matches no route. Unrouted
	// names are not cached: clients choose them, and they must not use
	// up the cap.
	unrouted *methodMetrics
}

// lookup returns the label children for a call to method.
func (m *Metrics) lookup(method string) *methodMetrics {
	c := m.methods.Load()
	if mm, ok := c.byName[method]; ok {
		return mm
	}
	cluster, ok := m.route(method)
	if !ok {
		return c.unrouted
	}
	return m.add(method, cluster)
}

// add caches the children of a routed method seen for the first time.
func (m *Metrics) add(method, cluster string) *methodMetrics {
	m.methodsMu.Lock()
	defer m.methodsMu.Unlock()
	c := m.methods.Load()
	if mm, ok := c.byName[method]; ok {
		return mm
	}
	if len(c.byName) >= MaxMethods {
		mm, ok := c.others[cluster]
		if !ok {
			mm = m.newMethodMetrics(cluster, OtherMethod)
			c.others[cluster] = mm
		}
		return mm
	}
	mm := m.newMethodMetrics(cluster, method)
	next := &methodCache{byName: maps.Clone(c.byName), others: c.others, unrouted: c.unrouted}
	next.byName[method] = mm
	m.methods.Store(next)
	return mm
}
