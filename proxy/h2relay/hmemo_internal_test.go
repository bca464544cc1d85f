package h2relay

import (
	"bytes"
	"slices"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// memoBlocks are header blocks that exercise the memo: indexed fields
// that name dynamic entries (whose meaning moves as entries are added),
// static ones, literals that add entries or leave the table alone, table
// size updates, and an index past the table.
var memoBlocks = [][]byte{
	{0xbe},                                 // dynamic entry 62
	{0xbf},                                 // dynamic entry 63
	{0x88},                                 // :status 200 (static)
	{0xbe, 0x88},                           // both
	{0x40, 3, 'x', '-', 'a', 1, '1'},       // literal, incremental indexing
	{0x40, 3, 'x', '-', 'b', 1, '2'},       // another
	{0x00, 3, 'x', '-', 'c', 1, '3'},       // literal, not indexed
	{0x20},                                 // table size 0: evicts every entry
	{0x3f, 0xe1, 0x1f},                     // table size 4096
	{0xff, 0x00},                           // index 127, past the table
	{0x40, 3, 'x', '-', 'a', 1, '1', 0xbe}, // adds an entry, then reads one
}

// headersFrame is f as the reader gets it: one HEADERS frame.
func headersFrame(t *testing.T, block []byte) (*http2.Framer, *http2.HeadersFrame) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, &buf)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true})
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	return fr, f.(*http2.HeadersFrame)
}

// checkMemoSequence decodes the blocks that picks choose through a
// headerReader, memo and all, and through a plain decoder: the fields
// must agree block by block, and so must failure.
func checkMemoSequence(t *testing.T, picks []byte) {
	h := newHeaderReader(4096)
	var plainFields []hpackField
	plain := hpack.NewDecoder(4096, func(f hpackField) { plainFields = append(plainFields, f) })
	for i, p := range picks {
		block := memoBlocks[int(p)%len(memoBlocks)]
		plainFields = plainFields[:0]
		_, werr := plain.Write(block)
		cerr := plain.Close()
		fr, f := headersFrame(t, block)
		got, err := h.read(fr, f, 4)
		if (werr != nil || cerr != nil) != (err != nil) {
			t.Fatalf("block %d (% x): reader error %v, plain decoder %v / %v", i, block, err, werr, cerr)
		}
		if err != nil {
			return // the connection ends here
		}
		if !slices.Equal(got, plainFields) {
			t.Fatalf("block %d (% x): reader decoded %v, plain decoder %v", i, block, got, plainFields)
		}
	}
}

// An indexed block read again after an entry was added names another
// field: the memo must not answer with the old one.
func TestBlockMemoFollowsTheTable(t *testing.T) {
	checkMemoSequence(t, []byte{4, 0, 0, 5, 0, 1, 6, 0, 7, 8, 4, 0, 10, 0, 1, 2, 2, 3})
	h := newHeaderReader(4096)
	for _, b := range [][]byte{memoBlocks[4], memoBlocks[0], memoBlocks[0]} {
		fr, f := headersFrame(t, b)
		if _, err := h.read(fr, f, 4); err != nil {
			t.Fatal(err)
		}
	}
	if h.memo.lookup(memoBlocks[0]) == nil {
		t.Fatal("an indexed block read twice is not remembered")
	}
}

// Any sequence of blocks decodes through the memo as through a plain
// decoder.
func FuzzBlockMemo(f *testing.F) {
	f.Add([]byte{4, 0, 0, 5, 0, 1, 6, 0, 7, 8, 4, 0})
	f.Add([]byte{10, 0, 0, 10, 3, 3, 9})
	f.Fuzz(checkMemoSequence)
}
