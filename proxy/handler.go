package proxy

import (
	"io"
	"strings"

	"github.com/straitproxy/strait/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// bidi describes any call kind: the proxy does not know, and need not.
var bidi = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// handle relays one call, whatever its kind, to the routed cluster.
func (s *Server) handle(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	cl, ok := s.route(method)
	if !ok {
		return status.Errorf(codes.Unimplemented, "strait: no route for method %s", method)
	}
	cl.inflight.Add(1)
	defer cl.inflight.Add(-1)
	// FromIncomingContext returns a private copy: trim it in place rather
	// than copying it again.
	md, _ := metadata.FromIncomingContext(ss.Context())
	opts := callOptions(contentSubtype(md))
	dropHopByHop(md)
	// The balancer measures streams to their first response, not their
	// lifetime.
	ctx, first := lb.WithFirstResponse(metadata.NewOutgoingContext(ss.Context(), md))
	cs, err := cl.conn.NewStream(ctx, bidi, method, opts...)
	if err != nil {
		return err
	}
	go forwardRequests(ss, cs)
	return s.forwardResponses(cs, ss, first)
}

// protoCallOptions serve the common content-subtype without building
// options per call.
var protoCallOptions = []grpc.CallOption{grpc.ForceCodecV2(rawCodec{}), grpc.CallContentSubtype("proto")}

func callOptions(subtype string) []grpc.CallOption {
	if subtype == "proto" {
		return protoCallOptions
	}
	return []grpc.CallOption{grpc.ForceCodecV2(rawCodec{}), grpc.CallContentSubtype(subtype)}
}

// forwardRequests copies client messages upstream and half-closes when the
// client does. It ends silently when the upstream call ends: the status
// comes back through forwardResponses.
func forwardRequests(ss grpc.ServerStream, cs grpc.ClientStream) {
	// One frame serves every message: Marshal hands its buffers on and
	// empties it.
	f := &frame{}
	for {
		if err := ss.RecvMsg(f); err != nil {
			if err == io.EOF {
				_ = cs.CloseSend()
			}
			return
		}
		if err := cs.SendMsg(f); err != nil {
			f.data.Free()
			return
		}
	}
}

// forwardResponses sends the upstream's headers as soon as they arrive,
// then its messages, and returns its status with its trailers. A
// trailers-only upstream response stays trailers-only.
func (s *Server) forwardResponses(cs grpc.ClientStream, ss grpc.ServerStream, first *lb.FirstResponse) error {
	hdr, err := cs.Header()
	if err != nil {
		return err
	}
	first.Observe()
	if s.picked != nil {
		if p, ok := peer.FromContext(cs.Context()); ok {
			s.picked(ss.Context(), p.Addr.String())
		}
	}
	if hdr != nil {
		if err := ss.SendHeader(hdr); err != nil {
			return err
		}
	}
	f := &frame{}
	for {
		if err := cs.RecvMsg(f); err != nil {
			ss.SetTrailer(cs.Trailer())
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err := ss.SendMsg(f); err != nil {
			f.data.Free()
			return err
		}
	}
}

// hopByHop are request headers that describe one connection, not the call.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true, "te": true, "host": true,
	"grpc-accept-encoding": true, "grpc-encoding": true,
}

// dropHopByHop removes hop-by-hop and pseudo-headers from md; grpc-go
// drops its other reserved headers itself.
func dropHopByHop(md metadata.MD) {
	for k := range md {
		if hopByHop[k] || strings.HasPrefix(k, ":") {
			delete(md, k)
		}
	}
}

// contentSubtype keeps the client's content-subtype ("proto" when none).
func contentSubtype(md metadata.MD) string {
	ct := md.Get("content-type")
	if len(ct) == 0 {
		return "proto"
	}
	_, sub, found := strings.Cut(ct[0], "+")
	if !found || sub == "" {
		return "proto"
	}
	return sub
}
