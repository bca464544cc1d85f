package h2relay

import "bytes"

// maxMemoBlock bounds the header blocks blockMemo keeps: a gRPC server's
// response headers and trailers, once indexed, are a few bytes.
const maxMemoBlock = 64

// blockMemo remembers what header blocks made only of indexed
// representations decoded to, keyed by their bytes. Decoding such a block
// leaves the decoder's dynamic table as it was, so while no other block
// changes the table the same bytes decode to the same fields: a gRPC
// server sends the same few indices as the response headers and OK
// trailers of every call, and a hit skips the decoder. It is the decoding
// side of blockCache. Owned by the reader goroutine with its
// headerReader.
type blockMemo struct {
	entries [4]memoBlock
	next    int
}

type memoBlock struct {
	raw    []byte
	fields []hpackField
	size   uint32
}

// lookup returns the memo of block, or nil.
func (m *blockMemo) lookup(block []byte) *memoBlock {
	for i := range m.entries {
		if e := &m.entries[i]; e.raw != nil && bytes.Equal(e.raw, block) {
			return e
		}
	}
	return nil
}

// decoded records a block that decoded to fields of the given list
// size: kept when it is small and all indexed, and otherwise (the table
// may have changed) every entry is dropped.
func (m *blockMemo) decoded(block []byte, fields []hpackField, size uint32) {
	if len(block) > maxMemoBlock || !allIndexed(block) {
		m.reset()
		return
	}
	e := &m.entries[m.next]
	m.next = (m.next + 1) % len(m.entries)
	e.raw = append(e.raw[:0], block...)
	e.fields = append(e.fields[:0], fields...)
	e.size = size
}

func (m *blockMemo) reset() {
	for i := range m.entries {
		m.entries[i].raw = nil
	}
}
