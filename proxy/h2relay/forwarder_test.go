package h2relay_test

import (
	"bufio"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
)

// forwarder relays TCP connections to a backend frame by frame,
// counting PINGs and GOAWAYs. A frozen connection is black-holed as by
// a middlebox that dropped the flow, or a dead host behind one: what
// either side sends is read and dropped, nothing is sent or closed.
// A fake because loopback offers no way to make a real peer vanish.
type forwarder struct {
	t      *testing.T
	addr   string
	target string
	lis    net.Listener
	wg     sync.WaitGroup

	pings       atomic.Int64 // PINGs (not ACKs) the relay sent
	calmGoAways atomic.Int64 // GOAWAY ENHANCE_YOUR_CALM the backend sent
	relayClosed atomic.Int64 // relay sides that ended while frozen

	mu      sync.Mutex
	conns   []net.Conn
	flows   []*atomic.Bool // frozen, per connection
	stopped bool
}

func startForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{t: t, addr: lis.Addr().String(), target: target, lis: lis}
	f.wg.Go(f.accept)
	t.Cleanup(f.stop)
	return f
}

func (f *forwarder) accept() {
	for {
		down, err := f.lis.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			down.Close()
			continue
		}
		f.mu.Lock()
		if f.stopped {
			f.mu.Unlock()
			down.Close()
			up.Close()
			return
		}
		frozen := new(atomic.Bool)
		f.conns = append(f.conns, down, up)
		f.flows = append(f.flows, frozen)
		f.mu.Unlock()
		f.wg.Go(func() { f.pipe(down, up, frozen, true) })
		f.wg.Go(func() { f.pipe(up, down, frozen, false) })
	}
}

// pipe copies whole frames from src to dst; fromRelay is the relay's
// side, which starts with the client preface.
func (f *forwarder) pipe(src, dst net.Conn, frozen *atomic.Bool, fromRelay bool) {
	br := bufio.NewReader(src)
	err := f.copyFrames(br, dst, frozen, fromRelay)
	if frozen.Load() {
		if fromRelay && err != nil {
			f.relayClosed.Add(1)
		}
		return
	}
	src.Close()
	dst.Close()
}

func (f *forwarder) copyFrames(br *bufio.Reader, dst io.Writer, frozen *atomic.Bool, fromRelay bool) error {
	if fromRelay {
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(br, preface); err != nil {
			return err
		}
		if _, err := dst.Write(preface); err != nil {
			return err
		}
	}
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			return err
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		frame := append(hdr[:9:9], make([]byte, n)...)
		if _, err := io.ReadFull(br, frame[9:]); err != nil {
			return err
		}
		if frozen.Load() {
			continue
		}
		f.count(frame, fromRelay)
		if _, err := dst.Write(frame); err != nil {
			return err
		}
	}
}

func (f *forwarder) count(frame []byte, fromRelay bool) {
	typ, flags := http2.FrameType(frame[3]), http2.Flags(frame[4])
	switch {
	case fromRelay && typ == http2.FramePing && flags&http2.FlagPingAck == 0:
		f.pings.Add(1)
	case !fromRelay && typ == http2.FrameGoAway && len(frame) >= 17:
		code := http2.ErrCode(uint32(frame[13])<<24 | uint32(frame[14])<<16 | uint32(frame[15])<<8 | uint32(frame[16]))
		if code == http2.ErrCodeEnhanceYourCalm {
			f.calmGoAways.Add(1)
		}
	}
}

// dropFlows black-holes the connections open now; new ones work.
func (f *forwarder) dropFlows() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, frozen := range f.flows {
		frozen.Store(true)
	}
}

// freeze black-holes every connection and refuses new ones: the host
// is gone.
func (f *forwarder) freeze() {
	f.lis.Close()
	f.dropFlows()
}

func (f *forwarder) stop() {
	f.lis.Close()
	f.mu.Lock()
	f.stopped = true
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
