package tcpproxy

import (
	"sync/atomic"
	"time"
)

// How a connection ended, in ConnEnd.How.
const (
	EndClosed   = "closed"   // a peer closed it or broke it
	EndIdle     = "idle"     // idle_timeout
	EndLifetime = "lifetime" // max_lifetime
	EndDrain    = "drain"    // its endpoint was removed (drain mode close)
	EndShutdown = "shutdown" // the proxy closed
	EndUnserved = "unserved" // no endpoint could be dialled
)

// ConnEnd is one finished client connection, for access logs.
type ConnEnd struct {
	Accepted time.Time
	Client   string
	// Endpoint is "" when the connection was unserved.
	Endpoint string
	// FromClient and FromEndpoint count the bytes relayed each way.
	FromClient, FromEndpoint int64
	Duration                 time.Duration
	// How is one of the End* names.
	How string
}

// endCounters is what a conn keeps for its ConnEnd: the bytes each way
// (added by the copy loops) and the counter its kill was charged to.
type endCounters struct {
	fromClient, fromEndpoint atomic.Int64
	killedBy                 atomic.Pointer[atomic.Uint64]
}

// finish reports c's end to Options.Finished.
func (p *Proxy) finish(c *conn, accepted time.Time) {
	if p.opts.Finished == nil {
		return
	}
	how := EndClosed
	switch c.end.killedBy.Load() {
	case &p.stats.idleClosed:
		how = EndIdle
	case &p.stats.lifetimeClosed:
		how = EndLifetime
	case &p.stats.drainClosed:
		how = EndDrain
	case &p.stats.shutClosed:
		how = EndShutdown
	}
	p.opts.Finished(ConnEnd{Accepted: accepted, Client: c.client.RemoteAddr().String(), Endpoint: c.addr,
		FromClient: c.end.fromClient.Load(), FromEndpoint: c.end.fromEndpoint.Load(),
		Duration: time.Since(accepted), How: how})
}

// unserved reports a connection no endpoint took to Options.Finished.
func (p *Proxy) unserved(client string, accepted time.Time) {
	if p.opts.Finished != nil {
		p.opts.Finished(ConnEnd{Accepted: accepted, Client: client, Duration: time.Since(accepted), How: EndUnserved})
	}
}
