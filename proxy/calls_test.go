package proxy_test

import (
	"context"
	"io"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestUnary(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		resp, err := h.client.UnaryCall(ctxTimeout(t, 5*time.Second), &testpb.SimpleRequest{
			ResponseSize: 1000, Payload: &testpb.Payload{Body: make([]byte, 500)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetPayload().GetBody()) != 1000 || resp.GetHostname() != "b0" {
			t.Fatalf("got %d bytes from %q, want 1000 from b0", len(resp.GetPayload().GetBody()), resp.GetHostname())
		}
	})
}

func TestServerStreaming(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		req := &testpb.StreamingOutputCallRequest{}
		for i := 1; i <= 5; i++ {
			req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: int32(i * 100)})
		}
		stream, err := h.client.StreamingOutputCall(ctxTimeout(t, 5*time.Second), req)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			m, err := stream.Recv()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if got := len(m.GetPayload().GetBody()); got != i*100 {
				t.Fatalf("message %d: %d bytes, want %d", i, got, i*100)
			}
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("end of stream: %v, want EOF", err)
		}
	})
}

func TestClientStreaming(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		stream, err := h.client.StreamingInputCall(ctxTimeout(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 10; i++ {
			if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, i)}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 55 {
			t.Fatalf("aggregated %d, want 55", resp.GetAggregatedPayloadSize())
		}
	})
}

func TestBidiStreamingPingPongAndHalfClose(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		stream, err := h.client.FullDuplexCall(ctxTimeout(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 20; i++ {
			req := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: int32(i)}}}
			if err := stream.Send(req); err != nil {
				t.Fatal(err)
			}
			m, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if len(m.GetPayload().GetBody()) != i {
				t.Fatalf("ping %d: got %d bytes", i, len(m.GetPayload().GetBody()))
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("after half-close: %v, want EOF (the backend ends on our half-close)", err)
		}
	})
}

func TestMetadataBothWays(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, 5*time.Second),
			backend.EchoHeaderKey, "hello", backend.EchoTrailerKey, string([]byte{0, 1, 2, 255}))
		var hdr, trl metadata.MD
		if _, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Header(&hdr), grpc.Trailer(&trl)); err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get(backend.EchoHeaderKey); len(got) != 1 || got[0] != "hello" {
			t.Fatalf("header echo = %q", got)
		}
		if got := hdr.Get(backend.ServedByHeaderKey); len(got) != 1 || got[0] != "b0" {
			t.Fatalf("served-by = %q", got)
		}
		if got := trl.Get(backend.EchoTrailerKey); len(got) != 1 || got[0] != string([]byte{0, 1, 2, 255}) {
			t.Fatalf("binary trailer echo = %q", got)
		}
	})
}

func TestHeadersForwardedBeforeAnyMessage(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := h.client.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, backend.HoldKey, "1"))
		if err != nil {
			t.Fatal(err)
		}
		hdr, err := stream.Header()
		if err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get(backend.ServedByHeaderKey); len(got) != 1 {
			t.Fatalf("headers while the backend holds: %v", hdr)
		}
	})
}

func TestHeadersThenErrorWithoutMessage(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, 5*time.Second), backend.HeadersThenErrorKey, "1")
		stream, err := h.client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		hdr, err := stream.Header()
		if err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get("x-test-sent"); len(got) != 1 || got[0] != "early" {
			t.Fatalf("early header = %v", hdr)
		}
		_, err = stream.Recv()
		if st := status.Convert(err); st.Code() != codes.Aborted || st.Message() != "headers sent, then failed" {
			t.Fatalf("status = %v", err)
		}
	})
}

func TestTrailersOnlyErrorWithDetails(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		want := &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing"}
		call := func(conn *grpc.ClientConn) (st *status.Status, hdr, trl metadata.MD) {
			ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, 5*time.Second), backend.EchoTrailerKey, "t", backend.NoHeadersKey, "1")
			_, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: want}, grpc.Header(&hdr), grpc.Trailer(&trl))
			// The remaining deadline differs between two calls by nature.
			hdr.Delete(backend.DeadlineHeaderKey)
			trl.Delete(backend.DeadlineHeaderKey)
			return status.Convert(err), hdr, trl
		}
		st, hdr, trl := call(h.conn)
		if st.Code() != codes.NotFound || st.Message() != "no such thing" {
			t.Fatalf("status = %v", st)
		}
		if len(st.Details()) != 1 || !proto.Equal(st.Details()[0].(proto.Message), want) {
			t.Fatalf("details = %v", st.Details())
		}
		_, directHdr, directTrl := call(h.direct(t, 0))
		if !reflect.DeepEqual(hdr, directHdr) || !reflect.DeepEqual(trl, directTrl) {
			t.Fatalf("through strait: header %v trailer %v; direct: header %v trailer %v", hdr, trl, directHdr, directTrl)
		}
		raw := rawUnary(t, h.addr, "/grpc.testing.TestService/UnaryCall", &testpb.SimpleRequest{ResponseStatus: want}, backend.NoHeadersKey, "1")
		if raw.Header.Get("grpc-status") != "5" || len(raw.Trailer) != 0 {
			t.Fatalf("not trailers-only on the wire: header %v trailer %v", raw.Header, raw.Trailer)
		}
	})
}

func TestDeadlineReachesBackend(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		var hdr metadata.MD
		if _, err := h.client.UnaryCall(ctxTimeout(t, 3*time.Second), &testpb.SimpleRequest{}, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		ms, err := strconv.Atoi(first(hdr, backend.DeadlineHeaderKey))
		if err != nil || ms <= 1000 || ms > 3000 {
			t.Fatalf("backend saw deadline %q ms, want (1000, 3000]", first(hdr, backend.DeadlineHeaderKey))
		}
		_, err = h.client.UnaryCall(metadata.AppendToOutgoingContext(ctxTimeout(t, 100*time.Millisecond), backend.HoldKey, "1"), &testpb.SimpleRequest{})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("held call past its deadline: %v", err)
		}
		testutil.WaitFor(t, 5*time.Second, "backend sees its call end at the deadline", func() bool {
			return h.backends[0].Cancelled() == 1
		})
	})
}

func TestClientCancelReachesBackend(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := h.client.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, backend.HoldKey, "1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Header(); err != nil {
			t.Fatal(err)
		}
		cancel()
		testutil.WaitFor(t, 5*time.Second, "backend sees the client's cancel", func() bool {
			return h.backends[0].Cancelled() == 1
		})
	})
}

func TestBackendFailureEndsClientStream(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		stream, err := h.client.FullDuplexCall(ctxTimeout(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ok := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}
		if err := stream.Send(ok); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		fail := &testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.Internal), Message: "mid-stream"}}
		if err := stream.Send(fail); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.Internal {
			t.Fatalf("after backend failure: %v, want Internal", err)
		}
	})
}

func TestBackendCrashEndsClientStream(t *testing.T) {
	eachPlane(t, func(t *testing.T, dp dataplane) {
		h := startHarness(t, harnessOptions{plane: dp, backends: 1})
		stream, err := h.client.FullDuplexCall(metadata.AppendToOutgoingContext(ctxTimeout(t, 10*time.Second), backend.HoldKey, "1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Header(); err != nil {
			t.Fatal(err)
		}
		h.backends[0].Stop()
		if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("after backend crash: %v, want Unavailable", err)
		}
	})
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
