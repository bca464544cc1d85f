package backend

import (
	"context"
	"io"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata that steers TestService, for the data-path tests.
const (
	// EchoHeaderKey's values come back as response header metadata.
	EchoHeaderKey = "x-test-echo-header"
	// EchoTrailerKey's values come back as trailer metadata.
	EchoTrailerKey = "x-test-echo-trailer-bin"
	// HeadersThenErrorKey: send headers, then fail without a message.
	HeadersThenErrorKey = "x-test-headers-then-error"
	// HoldKey: wait until the call's context ends (to observe cancels).
	HoldKey = "x-test-hold"
	// DeadlineHeaderKey is the response header with the remaining
	// deadline the backend saw, in milliseconds ("none" without one).
	DeadlineHeaderKey = "x-test-deadline-ms"
	// ServedByHeaderKey is the response header naming the backend.
	ServedByHeaderKey = "x-served-by"
)

// testService implements grpc.testing.TestService: every call kind, with
// status, details, metadata and timing controlled by the request.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	b *Backend
}

func (t *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	if err := t.begin(ctx, grpc.SetHeader); err != nil {
		return nil, err
	}
	return &testpb.Empty{}, nil
}

func (t *testService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := t.begin(ctx, grpc.SetHeader); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: payload(in.GetResponseSize()), Hostname: t.b.name}, nil
}

func (t *testService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, s grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if err := t.begin(s.Context(), stageHeader(s)); err != nil {
		return err
	}
	if err := sendAll(s, in); err != nil {
		return err
	}
	return echoStatus(in.GetResponseStatus())
}

func (t *testService) StreamingInputCall(s grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	if err := t.begin(s.Context(), stageHeader(s)); err != nil {
		return err
	}
	var sum int32
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: sum})
		}
		if err != nil {
			return err
		}
		sum += int32(len(m.GetPayload().GetBody()))
	}
}

func (t *testService) FullDuplexCall(s grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	if err := t.begin(s.Context(), stageHeader(s)); err != nil {
		return err
	}
	for {
		in, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := sendAll(s, in); err != nil {
			return err
		}
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
	}
}

// begin runs the knobs and the metadata-driven behaviours shared by all
// calls. setHeader stages response headers (grpc.SetHeader for unary).
func (t *testService) begin(ctx context.Context, setHeader func(context.Context, metadata.MD) error) error {
	md, _ := metadata.FromIncomingContext(ctx)
	hdr := metadata.Pairs(ServedByHeaderKey, t.b.name, DeadlineHeaderKey, remaining(ctx))
	hdr.Append(EchoHeaderKey, md.Get(EchoHeaderKey)...)
	if err := setHeader(ctx, hdr); err != nil {
		return err
	}
	if v := md.Get(EchoTrailerKey); len(v) > 0 {
		grpc.SetTrailer(ctx, metadata.MD{EchoTrailerKey: v})
	}
	if len(md.Get(HoldKey)) > 0 {
		t.b.calls.Add(1)
		return t.b.wait(ctx, time.Hour)
	}
	if len(md.Get(HeadersThenErrorKey)) > 0 {
		t.b.calls.Add(1)
		if err := grpc.SendHeader(ctx, metadata.Pairs("x-test-sent", "early")); err != nil {
			return err
		}
		return status.Error(codes.Aborted, "headers sent, then failed")
	}
	return t.b.admit(ctx)
}

// stageHeader adapts a server stream's SetHeader to begin's signature.
func stageHeader(s grpc.ServerStream) func(context.Context, metadata.MD) error {
	return func(_ context.Context, md metadata.MD) error { return s.SetHeader(md) }
}

func remaining(ctx context.Context) string {
	d, ok := ctx.Deadline()
	if !ok {
		return "none"
	}
	return strconv.FormatInt(time.Until(d).Milliseconds(), 10)
}

// echoStatus turns a requested status into an error carrying the request
// itself as a status detail, so tests can check details pass through.
func echoStatus(s *testpb.EchoStatus) error {
	if s == nil || s.GetCode() == 0 {
		return nil
	}
	st := status.New(codes.Code(s.GetCode()), s.GetMessage())
	if ds, err := st.WithDetails(s); err == nil {
		st = ds
	}
	return st.Err()
}

func sendAll(s interface {
	Send(*testpb.StreamingOutputCallResponse) error
	Context() context.Context
}, in *testpb.StreamingOutputCallRequest) error {
	for _, p := range in.GetResponseParameters() {
		if us := p.GetIntervalUs(); us > 0 {
			select {
			case <-time.After(time.Duration(us) * time.Microsecond):
			case <-s.Context().Done():
				return status.FromContextError(s.Context().Err()).Err()
			}
		}
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
			return err
		}
	}
	return nil
}

func payload(size int32) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, size)}
}
