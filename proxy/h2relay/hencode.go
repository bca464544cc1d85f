package h2relay

import (
	"bytes"

	"golang.org/x/net/http2/hpack"
)

// headerEncoder encodes a connection's outgoing header blocks: the
// hpack encoder, its output and a cache of the blocks gRPC repeats.
type headerEncoder struct {
	enc   *hpack.Encoder
	buf   bytes.Buffer
	cache blockCache
}

func (h *headerEncoder) init() { h.enc = hpack.NewEncoder(&h.buf) }

// encode returns fields as one header block, valid until the next call.
// Volatile fields go last, as literals never indexed: indexed, each
// request would add a table entry no later block uses and move every
// other entry, so that no block could come from the cache (ghz, like
// any client with a deadline, sends a new grpc-timeout every call).
func (h *headerEncoder) encode(fields []hpackField) []byte {
	h.buf.Reset()
	if block := h.cache.lookup(fields); block != nil {
		h.buf.Write(block)
	} else {
		for _, f := range fields {
			if !volatile(f.Name) {
				h.enc.WriteField(f)
			}
		}
		h.cache.encoded(fields, h.buf.Bytes())
	}
	for _, f := range fields {
		if volatile(f.Name) {
			f.Sensitive = true
			h.enc.WriteField(f)
		}
	}
	return h.buf.Bytes()
}

// setMaxTableSize applies the peer's SETTINGS_HEADER_TABLE_SIZE. The
// encoder announces the change at the start of its next block, which
// is never a cached one.
func (h *headerEncoder) setMaxTableSize(v uint32) {
	h.enc.SetMaxDynamicTableSizeLimit(v)
	h.cache.reset()
}

// volatile says whether a header's value is usually new on every
// request: deadlines and trace or request ids.
func volatile(name string) bool {
	switch name {
	case "grpc-timeout", "grpc-trace-bin", "traceparent", "tracestate",
		"x-request-id", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "b3",
		"x-cloud-trace-context", "x-amzn-trace-id":
		return true
	}
	return false
}
