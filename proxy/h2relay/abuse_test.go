package h2relay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil/backend"
	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// Each attack runs on its own connection while a well-behaved client
// shares the relay; the attack must be stopped and the client served.
func TestAbuseLimits(t *testing.T) {
	hold := []string{backend.HoldKey, "1"}
	attacks := []struct {
		name   string
		opts   h2relay.Options
		attack func(r *rawConn)
	}{
		{"rapid reset", h2relay.Options{}, func(r *rawConn) {
			go func() {
				for id := uint32(1); id < 20000; id += 2 {
					if r.headers(id, false) != nil || r.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeEnhanceYourCalm)
		}},
		{"stream over the receive window", h2relay.Options{StreamWindow: 16384}, func(r *rawConn) {
			r.headers(1, false, hold...)
			go func() {
				for range 200 {
					if r.fr.WriteData(1, false, make([]byte, 16384)) != nil {
						return
					}
				}
			}()
			if code := r.reset(1); code != http2.ErrCodeFlowControl {
				r.t.Fatalf("RST_STREAM %v, want FLOW_CONTROL_ERROR", code)
			}
		}},
		{"connection over the receive window", h2relay.Options{StreamWindow: 1 << 20, ConnWindow: 65535}, func(r *rawConn) {
			r.headers(1, false, hold...)
			go func() {
				for range 64 {
					if r.fr.WriteData(1, false, make([]byte, 16384)) != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeFlowControl)
		}},
		{"streams over the cap", h2relay.Options{MaxConcurrentStreams: 4}, func(r *rawConn) {
			for id := uint32(1); id <= 9; id += 2 {
				r.headers(id, false, hold...)
			}
			if code := r.reset(9); code != http2.ErrCodeRefusedStream {
				r.t.Fatalf("fifth stream: RST_STREAM %v, want REFUSED_STREAM", code)
			}
		}},
		{"header list over the limit", h2relay.Options{MaxHeaderListSize: 8 << 10}, func(r *rawConn) {
			blk := r.block("x-big", strings.Repeat("a", 20<<10))
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:len(blk)/2], EndHeaders: false})
			r.fr.WriteContinuation(1, true, blk[len(blk)/2:])
			if code := r.reset(1); code != http2.ErrCodeProtocol {
				r.t.Fatalf("RST_STREAM %v, want PROTOCOL_ERROR", code)
			}
		}},
		{"CONTINUATION flood", h2relay.Options{}, func(r *rawConn) {
			blk := r.block()
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:1]})
			go func() {
				for range 10000 {
					if r.fr.WriteContinuation(1, false, nil) != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeEnhanceYourCalm)
		}},
		{"PING flood", h2relay.Options{}, func(r *rawConn) {
			go func() {
				for range 20000 {
					if r.fr.WritePing(false, [8]byte{}) != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeEnhanceYourCalm)
		}},
		{"SETTINGS flood", h2relay.Options{}, func(r *rawConn) {
			go func() {
				for range 5000 {
					if r.fr.WriteSettings() != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeEnhanceYourCalm)
		}},
		{"empty DATA flood", h2relay.Options{}, func(r *rawConn) {
			r.headers(1, false, hold...)
			go func() {
				for range 20000 {
					if r.fr.WriteData(1, false, nil) != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeEnhanceYourCalm)
		}},
		{"padded empty DATA flood", h2relay.Options{}, func(r *rawConn) {
			// The backend's 64 KiB window is spent first, so that
			// each frame would wait in the stream's upstream queue.
			r.headers(1, false, hold...)
			go func() {
				for range 4 {
					if r.fr.WriteData(1, false, make([]byte, 16384)) != nil {
						return
					}
				}
				for range 20000 {
					if r.fr.WriteDataPadded(1, false, nil, make([]byte, 200)) != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeEnhanceYourCalm)
		}},
		{"provoked reset: WINDOW_UPDATE of 0", h2relay.Options{}, provoke(func(r *rawConn, id uint32) error {
			if err := r.headers(id, false); err != nil {
				return err
			}
			r.fr.AllowIllegalWrites = true
			return r.fr.WriteWindowUpdate(id, 0)
		})},
		{"provoked reset: DATA after END_STREAM", h2relay.Options{}, provoke(func(r *rawConn, id uint32) error {
			if err := r.headers(id, true); err != nil {
				return err
			}
			return r.fr.WriteData(id, false, []byte{0})
		})},
		{"provoked reset: stream depending on itself", h2relay.Options{}, provoke(func(r *rawConn, id uint32) error {
			if err := r.headers(id, false); err != nil {
				return err
			}
			return r.fr.WritePriority(id, http2.PriorityParam{StreamDep: id})
		})},
		{"provoked reset: trailers without END_STREAM", h2relay.Options{}, provoke(func(r *rawConn, id uint32) error {
			if err := r.headers(id, false); err != nil {
				return err
			}
			r.hbuf.Reset()
			r.enc.WriteField(hpack.HeaderField{Name: "x-trailer", Value: "1"})
			return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.hbuf.Bytes(), EndHeaders: true})
		})},
		{"provoked reset: content-length mismatch", h2relay.Options{}, provoke(func(r *rawConn, id uint32) error {
			if err := r.headers(id, false, "content-length", "1"); err != nil {
				return err
			}
			return r.fr.WriteData(id, true, []byte{0, 0})
		})},
		{"HEADERS flood on a stream the relay reset", h2relay.Options{MaxConcurrentStreams: 1}, func(r *rawConn) {
			// Ignored, as late frames on a reset stream are, but each
			// costs a header decode: the empty-frame limit bounds them.
			r.headers(1, false, hold...)
			r.headers(3, false, hold...)
			if code := r.reset(3); code != http2.ErrCodeRefusedStream {
				r.t.Fatalf("second stream: RST_STREAM %v, want REFUSED_STREAM", code)
			}
			go func() {
				for range 20000 {
					if r.headers(3, true) != nil {
						return
					}
				}
			}()
			r.goAway(http2.ErrCodeEnhanceYourCalm)
		}},
		{"idle connection", h2relay.Options{IdleTimeout: 100 * time.Millisecond}, func(r *rawConn) {
			r.goAway(http2.ErrCodeNo)
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			// Fixed windows: with BDP estimation a backend would take
			// whatever the attacker sends and no window would be hit.
			b := startBackend(t, "b0", grpc.InitialWindowSize(1<<16), grpc.InitialConnWindowSize(1<<16))
			addr := startRelay(t, a.opts, b.addr)
			client := dialClient(t, addr)
			if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
			a.attack(dialRaw(t, addr))
			if _, err := client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
				t.Fatalf("a well-behaved client after the attack: %v", err)
			}
		})
	}
}

// provoke opens streams one after another and has the relay reset each
// with trigger ("MadeYouReset"): the resets must spend the rapid-reset
// budget, ending the connection with ENHANCE_YOUR_CALM.
func provoke(trigger func(r *rawConn, id uint32) error) func(r *rawConn) {
	return func(r *rawConn) {
		go func() {
			for id := uint32(1); id < 20000; id += 2 {
				if trigger(r, id) != nil {
					return
				}
			}
		}()
		r.goAway(http2.ErrCodeEnhanceYourCalm)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	b := startBackend(t, "b0")
	addr := startRelay(t, h2relay.Options{HandshakeTimeout: 100 * time.Millisecond}, b.addr)
	r := dialRawSilent(t, addr)
	start := time.Now()
	r.closed()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a silent client kept its connection %v", d)
	}
}
