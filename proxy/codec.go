package proxy

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// frame is one gRPC message as opaque bytes. The proxy never parses it.
type frame struct {
	data mem.BufferSlice
}

// rawCodec passes message bytes through untouched: Unmarshal keeps a
// reference to the received buffers and Marshal hands the same buffers to
// the transport, which frees them once written. No copy, no parse.
type rawCodec struct{}

var _ encoding.CodecV2 = rawCodec{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("proxy codec: cannot marshal %T", v)
	}
	data := f.data
	f.data = nil
	return data, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("proxy codec: cannot unmarshal into %T", v)
	}
	data.Ref()
	f.data = data
	return nil
}

// Name is used as the upstream content-subtype when the client sent none:
// "application/grpc+proto" means the same as "application/grpc".
func (rawCodec) Name() string { return "proto" }
