package tcpproxy

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// errNoEndpoint is the reason a client is turned away when the balancer
// has nothing to offer.
var errNoEndpoint = errors.New("no endpoint")

// link is an established connection to an endpoint.
type link struct {
	backend net.Conn
	att     Attempt
	addr    string
	stats   *endpointStats
	obs     ConnObserver
}

// connect dials endpoints chosen by the balancer until one answers, trying
// up to DialAttempts of them. Each failure is reported to that endpoint's
// attempt (and so to its breaker and latency estimate) before the next
// pick, so the picker already sees it as worse.
func (p *Proxy) connect() (link, error) {
	tried := make([]string, 0, p.opts.DialAttempts)
	errs := make([]error, 0, p.opts.DialAttempts)
	for range p.opts.DialAttempts {
		ep, ok := p.pickUntried(tried)
		if !ok {
			errs = append(errs, errNoEndpoint)
			break
		}
		addr := ep.Addr()
		tried = append(tried, addr)
		att, err := ep.Start()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		l, err := p.dial(addr, att)
		if err == nil {
			return l, nil
		}
		errs = append(errs, err)
		if p.ctx.Err() != nil {
			break
		}
	}
	return link{}, errors.Join(errs...)
}

// pickUntried asks the balancer a few times for an endpoint this
// connection has not tried yet; when it keeps offering tried ones (a
// small cluster) the last offer is taken, so a lone endpoint is retried.
func (p *Proxy) pickUntried(tried []string) (Endpoint, bool) {
	var ep Endpoint
	for range 4 {
		var ok bool
		if ep, ok = p.bal.Pick(); !ok {
			return nil, false
		}
		if !slices.Contains(tried, ep.Addr()) {
			break
		}
	}
	return ep, true
}

// dial connects to addr and reports the outcome to att.
func (p *Proxy) dial(addr string, att Attempt) (link, error) {
	start := time.Now()
	nc, err := p.dialer.DialContext(p.ctx, "tcp", addr)
	took := time.Since(start)
	// Looked up after the dial: a removal meanwhile may have dropped it.
	es := p.stats.endpoint(addr)
	es.observeDial(took)
	if err != nil && p.ctx.Err() != nil {
		att.Connected(err) // cut by Close: no failure of the endpoint
		return link{}, fmt.Errorf("dial %s: %w", addr, err)
	}
	obs := p.obs.Dialed(addr, took, err)
	if err != nil {
		es.failed.Add(1)
		att.Connected(err)
		return link{}, fmt.Errorf("dial %s: %w", addr, err)
	}
	att.Connected(nil)
	es.opened.Add(1)
	es.active.Add(1)
	if obs == nil {
		obs = nopConn{}
	}
	return link{backend: nc, att: att, addr: addr, stats: es, obs: obs}, nil
}
