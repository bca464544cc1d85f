package proxy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// requestOfSize returns a request whose encoding is exactly n bytes.
func requestOfSize(t *testing.T, n int) *testpb.SimpleRequest {
	t.Helper()
	req := &testpb.SimpleRequest{Payload: &testpb.Payload{}}
	for body := n - 8; body >= 0; body-- {
		req.Payload.Body = make([]byte, body)
		if proto.Size(req) == n {
			return req
		}
	}
	t.Fatalf("no request encodes to %d bytes", n)
	return nil
}

func TestMessageSizeLimit(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		const limit = 1 << 20
		h := startHarness(t, harnessOptions{plane: dp, backends: 1, maxMessageSize: limit})
		ctx := ctxTimeout(t, 10*time.Second)
		if _, err := h.client.UnaryCall(ctx, requestOfSize(t, limit)); err != nil {
			t.Fatalf("request at the limit: %v", err)
		}
		_, err := h.client.UnaryCall(ctx, requestOfSize(t, limit+1))
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("request over the limit: %v, want ResourceExhausted", err)
		}
		// A response's encoding is its payload plus 8 bytes of framing fields
		// (payload tag and length, body tag and length, hostname "b0").
		resp := func(n int32) error {
			_, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: n})
			return err
		}
		if err := resp(limit - 16); err != nil {
			t.Fatalf("response under the limit: %v", err)
		}
		if err := resp(limit + 1); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("response over the limit: %v, want ResourceExhausted", err)
		}
		if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("a call after the oversized ones: %v", err)
		}
	})
}

func TestUnroutedMethodIsUnimplemented(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		err := h.conn.Invoke(ctxTimeout(t, 5*time.Second), "/unknown.Service/Do", &testpb.Empty{}, &testpb.Empty{})
		st := status.Convert(err)
		if st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "/unknown.Service/Do") {
			t.Fatalf("got %v, want Unimplemented naming the method", err)
		}
	})
}

func TestAllEndpointsDownIsUnavailable(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, deadAddrs: []string{testutil.DeadAddr(t), testutil.DeadAddr(t)}})
		_, err := h.client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, want Unavailable", err)
		}
	})
}

func TestGarbageOnTheGRPCPortLeavesOthersServed(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		client := &http.Client{Timeout: 5 * time.Second}
		if resp, err := client.Get("http://" + h.addr + "/"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		for _, junk := range [][]byte{randomBytes(t, 4096), []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + strings.Repeat("\xff", 64))} {
			conn, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			conn.Write(junk)
			// A close or a reset both end it; only a timeout means the
			// proxy kept a broken connection open.
			if _, err := io.Copy(io.Discard, conn); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("proxy neither answered nor closed: %v", err)
			}
			conn.Close()
		}
		if _, err := h.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("a good call after garbage: %v", err)
		}
	})
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("PRI"), []byte("XXX"))
}

func TestThousandConcurrentStreamsOnOneConnection(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 2})
		const n = 1000
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		streams := make([]grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse], n)
		for i := range streams {
			s, err := h.client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			streams[i] = s
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, s := range streams {
			wg.Go(func() {
				req := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 10}}}
				if err := s.Send(req); err != nil {
					errs <- err
					return
				}
				if _, err := s.Recv(); err != nil {
					errs <- err
					return
				}
				s.CloseSend()
				if _, err := s.Recv(); err != io.EOF {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("a stream failed: %v", err)
		}
		if got := h.backends[0].Calls() + h.backends[1].Calls(); got != n {
			t.Fatalf("backends saw %d calls, want %d", got, n)
		}
	})
}
