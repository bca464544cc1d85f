package attack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// conn is one attacking HTTP/2 client connection, written frame by frame.
//
// Concurrency: the attack's goroutine writes frames; the reader goroutine
// (when the attack reads at all) answers SETTINGS and PINGs and counts
// what comes back. Writes from both go through wmu; the header encoder is
// used by the writing goroutine alone.
type conn struct {
	nc  net.Conn
	fr  *http2.Framer
	wmu sync.Mutex

	enc  *hpack.Encoder
	hbuf bytes.Buffer

	// replenish makes the reader hand back every byte of DATA it
	// receives as window, like a client that keeps up.
	replenish bool

	readDone chan struct{} // closed when the reader ends; nil without one
	gone     chan struct{} // closed at the first GOAWAY or the reader's end
	goneOnce sync.Once
	settled  chan struct{} // closed at the server's first SETTINGS
	setOnce  sync.Once
	goAway   atomic.Int64 // GOAWAY error code + 1; 0 before any GOAWAY
	closedBy atomic.Bool  // the server closed the connection (EOF/reset)
	resets   atomic.Int64 // RST_STREAM frames received
	heads    atomic.Int64 // HEADERS frames received
	dataIn   atomic.Int64 // DATA payload bytes received
}

// dialOpts shape one attacking connection.
type dialOpts struct {
	// settings are sent in the client's first SETTINGS frame.
	settings []http2.Setting
	// connWindow, when above the default 65,535, is announced at once
	// with a connection WINDOW_UPDATE.
	connWindow uint32
	// noRead leaves the socket unread: no SETTINGS ACK, no PING ACK,
	// nothing drained, as a client that stopped reading.
	noRead bool
	// replenish hands received DATA back as window.
	replenish bool
}

// dial opens an attacking connection to t's h2c listener and sends the
// client preface. The connection is closed when ctx ends, which bounds
// every read and write of the attack.
func dial(ctx context.Context, t Target, o dialOpts) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	c := &conn{nc: nc, replenish: o.replenish, gone: make(chan struct{}), settled: make(chan struct{})}
	c.fr = http2.NewFramer(nc, nc)
	c.fr.AllowIllegalWrites = true // the attacks send what a client must not
	c.fr.SetMaxReadFrameSize(1 << 24)
	c.enc = hpack.NewEncoder(&c.hbuf)
	context.AfterFunc(ctx, func() { nc.Close() })
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.fr.WriteSettings(o.settings...); err != nil {
		nc.Close()
		return nil, err
	}
	if o.connWindow > 65535 {
		if err := c.fr.WriteWindowUpdate(0, o.connWindow-65535); err != nil {
			nc.Close()
			return nil, err
		}
	}
	if !o.noRead {
		c.readDone = make(chan struct{})
		go c.read()
	}
	return c, nil
}

// read answers the server's SETTINGS and PINGs and counts the rest,
// until the connection ends.
func (c *conn) read() {
	defer close(c.readDone)
	defer c.goneOnce.Do(func() { close(c.gone) })
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				c.closedBy.Store(!errors.Is(err, net.ErrClosed))
			}
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
				c.setOnce.Do(func() { close(c.settled) })
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				data := f.Data
				c.write(func(fr *http2.Framer) error { return fr.WritePing(true, data) })
			}
		case *http2.GoAwayFrame:
			c.goAway.CompareAndSwap(0, int64(f.ErrCode)+1)
			c.goneOnce.Do(func() { close(c.gone) })
		case *http2.RSTStreamFrame:
			c.resets.Add(1)
		case *http2.HeadersFrame:
			c.heads.Add(1)
		case *http2.DataFrame:
			n := f.Length
			c.dataIn.Add(int64(n))
			if c.replenish && n > 0 {
				id := f.StreamID
				c.write(func(fr *http2.Framer) error {
					if err := fr.WriteWindowUpdate(0, n); err != nil {
						return err
					}
					return fr.WriteWindowUpdate(id, n)
				})
			}
		}
	}
}

// write runs one or more Framer writes under the write lock.
func (c *conn) write(fn func(*http2.Framer) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return fn(c.fr)
}

// ended reports whether the server has answered GOAWAY or closed the
// connection.
func (c *conn) ended() bool {
	return c.goAway.Load() != 0 || c.closedBy.Load()
}

// awaitEnd waits up to d for the server's GOAWAY or close, for the
// frames the attack sent last to be read; it returns early when ctx ends.
// Without a reader it returns at once.
func (c *conn) awaitEnd(ctx context.Context, d time.Duration) {
	if c.readDone == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.gone:
	case <-t.C:
	case <-ctx.Done():
	}
}

// close closes the connection and waits for its reader.
func (c *conn) close() {
	c.nc.Close()
	if c.readDone != nil {
		<-c.readDone
	}
}

// code is the GOAWAY error code received, if any.
func (c *conn) code() (http2.ErrCode, bool) {
	v := c.goAway.Load()
	return http2.ErrCode(v - 1), v != 0
}

// block encodes a header block with the connection's encoder. Blocks
// must be sent in the order they were encoded, as the server's decoder
// follows the encoder's table.
func (c *conn) block(fields ...hpack.HeaderField) []byte {
	c.hbuf.Reset()
	for _, f := range fields {
		c.enc.WriteField(f)
	}
	return bytes.Clone(c.hbuf.Bytes())
}

// request is the header block of a gRPC call to method with extra
// header pairs (name, value, ...).
func (c *conn) request(method string, extra ...string) []byte {
	fields := []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: method},
		{Name: ":authority", Value: "attack"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		fields = append(fields, hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	return c.block(fields...)
}

// headers sends a complete header block on stream id.
func (c *conn) headers(id uint32, blk []byte, endStream bool) error {
	return c.write(func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: endStream, EndHeaders: true})
	})
}

// message is a gRPC length-prefixed message of n zero bytes.
func message(n int) []byte {
	b := make([]byte, 5+n)
	b[1], b[2], b[3], b[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return b
}

// hf is a header field.
func hf(name, value string) hpack.HeaderField { return hpack.HeaderField{Name: name, Value: value} }
