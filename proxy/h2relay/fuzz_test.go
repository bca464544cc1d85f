package h2relay_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type noRoutes struct{}

func (noRoutes) Route(string) (string, bool) { return "", false }

// seedFrames is a well-formed client session after the preface.
func seedFrames(t testing.TB) []byte {
	var buf, hb bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/a.B/C"}, {"content-type", "application/grpc"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes()[:3]})
	fr.WriteContinuation(1, true, hb.Bytes()[3:])
	fr.WriteData(1, false, []byte{0, 0, 0, 0, 2, 8, 1})
	fr.WriteWindowUpdate(0, 100)
	fr.WritePing(false, [8]byte{1})
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
	fr.WriteGoAway(3, http2.ErrCodeNo, nil)
	return buf.Bytes()
}

// Whatever a client sends after a valid preface and SETTINGS, the relay
// neither panics nor hangs: the connection ends once the client does.
func FuzzClientFrames(f *testing.F) {
	f.Add(seedFrames(f))
	f.Add([]byte{0, 0, 0, 4, 1, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 5, 1, 4, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 0x8a})
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := h2relay.NewServer(noRoutes{}, nil, h2relay.Options{HandshakeTimeout: time.Second})
		defer srv.Stop()
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			srv.ServeConn(server)
			close(done)
		}()
		go io.Copy(io.Discard, client)
		var pre bytes.Buffer
		pre.WriteString(http2.ClientPreface)
		http2.NewFramer(&pre, nil).WriteSettings()
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write(append(pre.Bytes(), in...))
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the relay kept a finished connection")
		}
	})
}
