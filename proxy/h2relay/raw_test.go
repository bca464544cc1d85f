package h2relay_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawConn is a hand-driven HTTP/2 client, to send what a well-behaved
// library never would.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	dec  *hpack.Decoder // for endHeaders
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	r := dialRawSilent(t, addr)
	r.fr = http2.NewFramer(r.nc, r.nc)
	r.enc = hpack.NewEncoder(&r.hbuf)
	if _, err := io.WriteString(r.nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return r
}

// block encodes a request for FullDuplexCall (a stream the backend
// keeps open as long as the client does) with extra header pairs.
func (r *rawConn) block(kv ...string) []byte {
	r.hbuf.Reset()
	kv = append([]string{":method", "POST", ":scheme", "http", ":path", "/grpc.testing.TestService/FullDuplexCall",
		":authority", "relay", "content-type", "application/grpc", "te", "trailers"}, kv...)
	for i := 0; i+1 < len(kv); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(r.hbuf.Bytes())
}

func (r *rawConn) headers(id uint32, end bool, kv ...string) error {
	return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(kv...), EndStream: end, EndHeaders: true})
}

// until reads frames until match accepts one; it fails the test when
// the connection ends first.
func (r *rawConn) until(what string, match func(http2.Frame) bool) http2.Frame {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("connection ended (%v) before %s", err, what)
		}
		if match(f) {
			return f
		}
	}
}

// goAway waits for GOAWAY with code, then for the connection to close.
func (r *rawConn) goAway(code http2.ErrCode) {
	r.t.Helper()
	f := r.until("GOAWAY", func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if f.ErrCode != code {
		r.t.Fatalf("GOAWAY %v, want %v", f.ErrCode, code)
	}
	r.closed()
}

// closed waits for the relay to close the connection.
func (r *rawConn) closed() {
	r.t.Helper()
	for {
		if _, err := r.fr.ReadFrame(); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				return
			}
			r.t.Fatalf("waiting for close: %v", err)
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func (r *rawConn) reset(id uint32) http2.ErrCode {
	r.t.Helper()
	f := r.until("RST_STREAM", func(f http2.Frame) bool {
		rst, ok := f.(*http2.RSTStreamFrame)
		return ok && rst.StreamID == id
	})
	return f.(*http2.RSTStreamFrame).ErrCode
}

// dialRawSilent connects and sends nothing at all.
func dialRawSilent(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, fr: http2.NewFramer(nil, nc)}
}
