package h2relay

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// TestBlockCacheMatchesEncoder encodes a run of blocks through the
// cache and through a plain encoder fed the same blocks: every block
// must come out byte for byte the same, so that the peer's decoder
// stays in step, including after a table size change.
func TestBlockCacheMatchesEncoder(t *testing.T) {
	req := []hpackField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/pkg.S/M"}, {Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"}}
	other := []hpackField{{Name: ":method", Value: "POST"}, {Name: ":path", Value: "/pkg.S/N"}, {Name: "x-id", Value: "1"}}
	secret := []hpackField{{Name: "authorization", Value: "k", Sensitive: true}}
	seq := [][]hpackField{req, req, req, other, req, other, other, secret, secret, req, req}

	var plainBuf, cachedBuf bytes.Buffer
	plain, cached := hpack.NewEncoder(&plainBuf), hpack.NewEncoder(&cachedBuf)
	var bc blockCache
	hits := 0
	for i, fields := range seq {
		if i == 9 {
			plain.SetMaxDynamicTableSizeLimit(64)
			cached.SetMaxDynamicTableSizeLimit(64)
			bc.reset()
		}
		plainBuf.Reset()
		for _, f := range fields {
			plain.WriteField(f)
		}
		block := bc.lookup(fields)
		if block != nil {
			hits++
		} else {
			cachedBuf.Reset()
			for _, f := range fields {
				cached.WriteField(f)
			}
			block = cachedBuf.Bytes()
			bc.encoded(fields, block)
		}
		if !bytes.Equal(block, plainBuf.Bytes()) {
			t.Fatalf("block %d: cached %x, encoder %x", i, block, plainBuf.Bytes())
		}
	}
	if hits < 2 {
		t.Fatalf("%d cache hits, want the repeated indexed blocks served from the cache", hits)
	}
}

func TestAllIndexed(t *testing.T) {
	for _, c := range []struct {
		block []byte
		want  bool
	}{
		{[]byte{0x82, 0x86}, true},
		{[]byte{0xff, 0x81, 0x01, 0x82}, true}, // multi-byte index
		{[]byte{0xff, 0x81}, false},            // truncated index
		{[]byte{0x82, 0x40, 0x01, 'a', 0x01, 'b'}, false},
		{[]byte{0x3f, 0xe1, 0x1f}, false}, // table size update
	} {
		if got := allIndexed(c.block); got != c.want {
			t.Errorf("allIndexed(%x) = %v, want %v", c.block, got, c.want)
		}
	}
}

// TestHeaderEncoderVolatile sends requests that differ only in their
// deadline, as a gRPC client with a timeout does: the peer decodes
// every block to the same fields, the deadline last and never indexed,
// and from the second block on the stable part comes from the cache.
func TestHeaderEncoderVolatile(t *testing.T) {
	var h headerEncoder
	h.init()
	var got []hpackField
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) { got = append(got, f) })
	for i := range 7 {
		if i == 4 {
			h.setMaxTableSize(256)
		}
		timeout := hpackField{Name: "grpc-timeout", Value: fmt.Sprintf("%dm", 1000+i)}
		fields := []hpackField{{Name: ":method", Value: "POST"}, {Name: ":path", Value: "/pkg.S/M"},
			timeout, {Name: "content-type", Value: "application/grpc"}}
		// Block 1 indexes the stable fields, so block 2 is cached; block 4
		// carries the table size update, so block 6 is the next hit.
		if (i == 2 || i == 3 || i == 6) && h.cache.lookup(fields) == nil {
			t.Fatalf("block %d: the stable fields were not cached", i)
		}
		got = got[:0]
		if _, err := dec.Write(h.encode(fields)); err != nil || dec.Close() != nil {
			t.Fatalf("block %d: decoding: %v", i, err)
		}
		timeout.Sensitive = true
		want := []hpackField{fields[0], fields[1], fields[3], timeout}
		if !slices.Equal(got, want) {
			t.Fatalf("block %d decoded to %v, want %v", i, got, want)
		}
	}
}
