package tcpproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

func TestProxyProtocolHeaderTellsBackendTheClient(t *testing.T) {
	for _, v := range []struct {
		name    string
		version byte
	}{{"v1", 1}, {"v2", 2}} {
		t.Run(v.name, func(t *testing.T) {
			b := startBackend(t, withProxyHeader())
			h := startProxy(t, Options{ProxyProtocol: v.name}, b.addr())
			c := h.dial()
			if err := ping(c, "after the header, the client's bytes"); err != nil {
				t.Fatal(err)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.headers) != 1 {
				t.Fatalf("backend read %d headers, want 1", len(b.headers))
			}
			hdr := b.headers[0]
			if hdr.Version != v.version || hdr.Command != proxyproto.PROXY {
				t.Errorf("header version %d command %v, want %d PROXY", hdr.Version, hdr.Command, v.version)
			}
			src, dst, ok := hdr.TCPAddrs()
			if !ok {
				t.Fatalf("header carries no TCP addresses: %+v", hdr)
			}
			if src.String() != c.LocalAddr().String() {
				t.Errorf("header source %v, want the client %v", src, c.LocalAddr())
			}
			if dst.String() != h.addr {
				t.Errorf("header destination %v, want the proxy listener %v", dst, h.addr)
			}
		})
	}
}

func TestNoProxyProtocolByDefault(t *testing.T) {
	first := make(chan []byte, 1)
	b := startBackend(t, withHandler(func(c net.Conn, r *bufio.Reader) {
		buf := make([]byte, 4)
		n, _ := io.ReadFull(r, buf)
		first <- buf[:n]
	}))
	h := startProxy(t, Options{}, b.addr())
	c := h.dial()
	c.Write([]byte("PING"))
	select {
	case got := <-first:
		if string(got) != "PING" {
			t.Fatalf("backend's first bytes %q, want the client's", got)
		}
	case <-time.After(waitLong):
		t.Fatal("backend got nothing")
	}
}
