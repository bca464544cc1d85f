package tcpproxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
)

// randomReader yields n deterministic pseudo-random bytes.
func randomReader(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{byte(seed)}), n)
}

// transfer pushes size bytes through c to an echo backend while reading
// the echo, and returns the SHA-256 of what was sent and of what came
// back.
func transfer(t *testing.T, c *net.TCPConn, seed uint64, size int64) (sent, got [32]byte) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(c, h), randomReader(seed, size)); err != nil {
			t.Errorf("send: %v", err)
		}
		c.CloseWrite()
		copy(sent[:], h.Sum(nil))
	}()
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		t.Errorf("receive: %v", err)
	}
	if n != size {
		t.Errorf("received %d bytes, want %d", n, size)
	}
	copy(got[:], h.Sum(nil))
	wg.Wait()
	return sent, got
}

func TestLargeTransferBothWays(t *testing.T) {
	b := startBackend(t)
	h := startProxy(t, Options{Name: "big"}, b.addr())
	const size = 48 << 20
	var wg sync.WaitGroup
	for i := range 3 {
		c := h.dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, got := transfer(t, c, uint64(i), size)
			if sent != got {
				t.Errorf("conn %d: checksum of echo %x differs from sent %x", i, got, sent)
			}
		}()
	}
	wg.Wait()
	testutil.WaitFor(t, waitLong, "connections counted closed", func() bool { return h.endpoint(b.addr()).Active == 0 })
	e := h.endpoint(b.addr())
	if e.BytesUp != 3*size || e.BytesDown != 3*size {
		t.Errorf("bytes up %d down %d, want %d each", e.BytesUp, e.BytesDown, 3*size)
	}
	if e.Opened != 3 || e.DialCount != 3 {
		t.Errorf("opened %d dials %d, want 3 and 3", e.Opened, e.DialCount)
	}
}

func TestHalfCloseStillGetsReply(t *testing.T) {
	b := startBackend(t, withHandler(digest))
	h := startProxy(t, Options{}, b.addr())
	c := h.dial()
	msg := bytes.Repeat([]byte("strait half-close "), 10000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	// The backend answers only once it has read our EOF.
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading reply after half-close: %v", err)
	}
	if want := sha256.Sum256(msg); !bytes.Equal(reply, want[:]) {
		t.Fatalf("reply %x, want digest %x", reply, want)
	}
}

func TestBackendHalfCloseReachesClient(t *testing.T) {
	heard := make(chan string, 1)
	b := startBackend(t, withHandler(func(c net.Conn, r *bufio.Reader) {
		io.WriteString(c, "hello")
		c.(*net.TCPConn).CloseWrite()
		// Keep reading after our half-close: the client may still talk.
		got, _ := io.ReadAll(r)
		heard <- string(got)
	}))
	h := startProxy(t, Options{}, b.addr())
	c := h.dial()
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("greeting %q, %v", got, err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after backend half-close: n=%d err=%v, want EOF", n, err)
	}
	io.WriteString(c, "still here")
	c.CloseWrite()
	select {
	case got := <-heard:
		if got != "still here" {
			t.Fatalf("backend heard %q after its half-close", got)
		}
	case <-time.After(waitLong):
		t.Fatal("backend never saw the client's bytes and EOF")
	}
}
