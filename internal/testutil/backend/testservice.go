package backend

import (
	"context"
	"io"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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
	// HoldKey: send headers, then wait until the call's context ends (to
	// observe cancels and early headers).
	HoldKey = "x-test-hold"
	// DeadlineHeaderKey is the response header with the remaining
	// deadline the backend saw, in milliseconds ("none" without one).
	DeadlineHeaderKey = "x-test-deadline-ms"
	// NoHeadersKey: stage no response headers, so an error response is
	// trailers-only on the wire.
	NoHeadersKey = "x-test-no-headers"
	// ServedByHeaderKey is the response header naming the backend.
	ServedByHeaderKey = "x-served-by"
)

// testService implements grpc.testing.TestService: every call kind, with
// status, details, metadata and timing controlled by the request.
type testService struct {
	testpb.UnimplementedTestServiceServer
	b *Backend
}

func (t *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return &testpb.Empty{}, nil
}

func (t *testService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: payload(in.GetResponseSize()), Hostname: t.b.name}, nil
}

func (t *testService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, s grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if err := t.begin(s.Context()); err != nil {
		return err
	}
	if err := sendAll(s, in); err != nil {
		return err
	}
	return echoStatus(in.GetResponseStatus())
}

func (t *testService) StreamingInputCall(s grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	if err := t.begin(s.Context()); err != nil {
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
	if err := t.begin(s.Context()); err != nil {
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
// calls. Response headers are staged, so an early error is trailers-only.
func (t *testService) begin(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	hdr := metadata.Pairs(ServedByHeaderKey, t.b.name, DeadlineHeaderKey, remaining(ctx))
	hdr.Append(EchoHeaderKey, md.Get(EchoHeaderKey)...)
	if len(md.Get(NoHeadersKey)) == 0 {
		if err := grpc.SetHeader(ctx, hdr); err != nil {
			return err
		}
	}
	if v := md.Get(EchoTrailerKey); len(v) > 0 {
		grpc.SetTrailer(ctx, metadata.MD{EchoTrailerKey: v})
	}
	if len(md.Get(HoldKey)) > 0 {
		t.b.calls.Add(1)
		if err := grpc.SendHeader(ctx, nil); err != nil {
			return err
		}
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
