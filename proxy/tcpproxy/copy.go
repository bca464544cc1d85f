package tcpproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// chunk bounds one io.Copy call so that byte counters and idle tracking
// see progress on long transfers. io.LimitedReader over a *net.TCPConn is
// one of the readers that (*net.TCPConn).ReadFrom still splices.
const chunk = 1 << 20

// Directions, as indexes into idleWindows.
const (
	up   = 0 // client → backend
	down = 1 // backend → client
)

// pipe copies both ways until both directions have ended, relaying each
// side's half-close to the other.
func (p *Proxy) pipe(c *conn) {
	var idle *idleWindows
	if p.opts.IdleTimeout > 0 {
		idle = newIdleWindows(p.opts.IdleTimeout, time.Now())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.copyDir(c, up, c.backend, c.client, idle, func(n int64) {
			c.stats.bytesUp.Add(uint64(n))
			c.end.fromClient.Add(n)
			c.obs.Sent(int(n))
		})
	}()
	p.copyDir(c, down, c.client, c.backend, idle, func(n int64) {
		c.stats.bytesDown.Add(uint64(n))
		c.end.fromEndpoint.Add(n)
		c.obs.Received(int(n))
	})
	wg.Wait()
}

// copyDir copies src to dst until src's EOF, which it passes on as a
// half-close of dst. Any other end (an error, the proxy closing the
// connection, idleness) closes both sockets so that the other direction
// stops too.
func (p *Proxy) copyDir(c *conn, dir int, dst, src net.Conn, idle *idleWindows, count func(int64)) {
	defer idle.finish(dir)
	lr := &io.LimitedReader{R: src}
	var deadline time.Time
	if idle != nil {
		deadline = idle.next(time.Now())
		src.SetReadDeadline(deadline)
	}
	moved := false
	for {
		lr.N = chunk
		n, err := io.Copy(dst, lr)
		if n > 0 {
			moved = true
			count(n)
		}
		switch {
		case err == nil && lr.N == 0:
			continue
		case err == nil:
			closeWrite(c, dst)
			return
		case idle != nil && errors.Is(err, os.ErrDeadlineExceeded):
			if idle.report(dir, moved) {
				c.kill(&p.stats.idleClosed)
				return
			}
			moved = false
			deadline = idle.next(deadline)
			src.SetReadDeadline(deadline)
		default:
			c.kill(nil)
			return
		}
	}
}

// closeWrite passes a half-close on; a socket that cannot half-close is
// closed whole, along with its peer.
func closeWrite(c *conn, dst net.Conn) {
	cw, ok := dst.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		c.kill(nil)
	}
}
