package tcpproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pires/go-proxyproto"
)

// conn is one relayed connection: the client's and the backend's sockets.
type conn struct {
	client, backend net.Conn
	addr            string
	stats           *endpointStats
	obs             ConnObserver
	once            sync.Once
	drainTimer      *time.Timer // guarded by Proxy.mu
	end             endCounters
}

// kill closes both sockets, which ends both copy loops. The first call
// wins and, when reason is not nil, counts the close on it.
func (c *conn) kill(reason *atomic.Uint64) {
	c.once.Do(func() {
		if reason != nil {
			reason.Add(1)
			c.end.killedBy.Store(reason)
		}
		c.client.Close()
		c.backend.Close()
	})
}

// serveConn relays client until both sides are done or the proxy cuts it.
func (p *Proxy) serveConn(client net.Conn) {
	accepted := time.Now()
	defer client.Close()
	l, err := p.connect()
	if err != nil {
		p.stats.unserved.Add(1)
		p.unserved(client.RemoteAddr().String(), accepted)
		if p.mayLog() {
			p.log.Warn("no endpoint could take the connection (logged once a second at most)",
				"client", client.RemoteAddr(), "err", err)
		}
		return
	}
	defer func() {
		l.stats.active.Add(-1)
		l.obs.Close()
		l.att.Close()
	}()
	c := &conn{client: client, backend: l.backend, addr: l.addr, stats: l.stats, obs: l.obs}
	defer p.finish(c, accepted)
	defer c.kill(nil)
	if !p.register(c) {
		return
	}
	defer p.unregister(c)
	if err := p.sendProxyHeader(c); err != nil {
		p.log.Warn("cannot send PROXY header", "endpoint", c.addr, "err", err)
		return
	}
	if d := p.opts.MaxLifetime; d > 0 {
		t := time.AfterFunc(d-time.Since(accepted), func() { c.kill(&p.stats.lifetimeClosed) })
		defer t.Stop()
	}
	p.pipe(c)
}

// mayLog lets one line a second through, so that an outage turning away
// thousands of clients does not flood the log; the counters have them all.
func (p *Proxy) mayLog() bool {
	now := time.Now().UnixNano()
	last := p.lastLog.Load()
	return now-last >= int64(time.Second) && p.lastLog.CompareAndSwap(last, now)
}

// sendProxyHeader tells the backend who the client is, before any of the
// client's bytes.
func (p *Proxy) sendProxyHeader(c *conn) error {
	var v byte
	switch p.opts.ProxyProtocol {
	case "v1":
		v = 1
	case "v2":
		v = 2
	default:
		return nil
	}
	h := proxyproto.HeaderProxyFromAddrs(v, c.client.RemoteAddr(), c.client.LocalAddr())
	_, err := h.WriteTo(c.backend)
	return err
}

// register lists c for drains and shutdown; false when the proxy is
// already closing every connection.
func (p *Proxy) register(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	p.drain.add(p, c)
	return true
}

func (p *Proxy) unregister(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	p.drain.remove(c)
}
