package h2relay

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// firstOver parses a whole DATA stream and returns the offset of the
// first message whose length prefix exceeds max.
func firstOver(b []byte, max int) (int, bool) {
	for i := 0; i+5 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i+1:]))
		if n > max {
			return i, true
		}
		i += 5 + n
	}
	return 0, false
}

// Splitting a stream into frames anywhere must not change what the size
// limit finds.
func FuzzMsgLimit(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 9}, uint8(4), uint8(7))
	f.Add([]byte{0, 0, 0, 1, 0}, uint8(2), uint8(10))
	f.Fuzz(func(t *testing.T, b []byte, step, max uint8) {
		want, wantOver := firstOver(b, int(max))
		var m msgLimit
		for off := 0; off < len(b); {
			end := min(len(b), off+int(step)%7+1)
			at, over := m.feed(b[off:end], int(max))
			if over {
				if !wantOver || (off+at != want && at != 0) || off+at < want {
					t.Fatalf("over at %d+%d, want %d (%v)", off, at, want, wantOver)
				}
				return
			}
			off = end
		}
		if wantOver {
			t.Fatalf("missed the message over %d at %d", max, want)
		}
	})
}

// Any header block, valid hpack or not, decodes or fails without
// panicking, and a decoded request passes checkFields only when it has
// the pseudo-headers a request needs.
func FuzzHeaderBlock(f *testing.F) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/a.B/C"}, {"te", "trailers"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	f.Add(buf.Bytes(), true)
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x82}, false)
	f.Fuzz(func(t *testing.T, block []byte, end bool) {
		var frame bytes.Buffer
		fr := http2.NewFramer(&frame, &frame)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true, EndStream: end})
		hf, err := fr.ReadFrame()
		if err != nil {
			return
		}
		fields, err := newHeaderReader(4096).read(fr, hf.(*http2.HeadersFrame), 4)
		if err != nil {
			return
		}
		if path, _, err := checkFields(fields, false); err == nil && path == "" {
			t.Fatal("a request without :path passed")
		}
	})
}
