package metrics

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"

	"github.com/straitproxy/strait/internal/testutil"
)

// The relay below is a minimal stand-in for strait's grpc-go path, so
// that this package is tested without it: a real grpc.Server with the
// stats handler that forwards unary calls, with the server call's
// context, to a real ClientConn whose picker reports its pick through
// PickedEndpoint, as strait's balancer does.

// bytesCodec moves messages as opaque bytes, so the relay needs no types.
type bytesCodec struct{}

var _ encoding.Codec = bytesCodec{}

func (bytesCodec) Name() string { return "proto" }

func (bytesCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("bytes codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (bytesCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("bytes codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

const recorderName = "strait_metrics_test_recorder"

// recorderPicker picks the one ready endpoint and reports it.
type recorderPicker struct {
	sc   balancer.SubConn
	addr string
}

func (p *recorderPicker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	if p.sc == nil {
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	PickedEndpoint(info.Ctx, p.addr)
	return balancer.PickResult{SubConn: p.sc}, nil
}

type recorderBuilder struct{}

func (recorderBuilder) Build(info base.PickerBuildInfo) balancer.Picker {
	for sc, sci := range info.ReadySCs {
		return &recorderPicker{sc: sc, addr: sci.Address.Addr}
	}
	return &recorderPicker{}
}

func init() {
	balancer.Register(base.NewBalancerBuilder(recorderName, recorderBuilder{}, base.Config{}))
}

// startRelay serves a relay to backendAddr with h installed and returns
// its address; everything stops when the test ends.
func startRelay(t *testing.T, h *Metrics, backendAddr string) string {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+backendAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"`+recorderName+`":{}}]}`),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(bytesCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.StatsHandler(h.StatsHandler()), grpc.ForceServerCodec(bytesCodec{}),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			method, _ := grpc.MethodFromServerStream(ss)
			if _, ok := testRoute(method); !ok {
				return status.Errorf(codes.Unimplemented, "no route for %s", method)
			}
			var req, resp []byte
			if err := ss.RecvMsg(&req); err != nil {
				return err
			}
			if err := cc.Invoke(ss.Context(), method, &req, &resp); err != nil {
				return err
			}
			return ss.SendMsg(&resp)
		}))
	t.Cleanup(func() { cc.Close() }) // after the server stops
	return testutil.Serve(t, srv)
}

// testRoute sends the Greeter service to cluster "greeter".
func testRoute(method string) (string, bool) {
	if strings.HasPrefix(method, "/helloworld.Greeter/") {
		return "greeter", true
	}
	return "", false
}
