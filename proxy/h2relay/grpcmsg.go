package h2relay

import "encoding/binary"

// msgLimit follows the gRPC length prefixes in one direction of a
// stream's DATA, across frame boundaries, to enforce the message size
// limit without buffering messages.
type msgLimit struct {
	rem int64 // bytes left of the current message
	hdr [5]byte
	hn  uint8 // prefix bytes seen so far: a uint8 packs beside hdr, keeping a stream in its size class
}

// feed advances over b. When a prefix announces a message larger than
// max it returns the offset in b where that prefix starts (0 when it
// began in an earlier frame) and true.
func (m *msgLimit) feed(b []byte, max int) (int, bool) {
	for i := 0; i < len(b); {
		if m.rem > 0 {
			k := min(int64(len(b)-i), m.rem)
			i += int(k)
			m.rem -= k
			continue
		}
		start := i
		if m.hn > 0 {
			start = 0
		}
		k := copy(m.hdr[m.hn:], b[i:])
		m.hn += uint8(k)
		i += k
		if int(m.hn) < len(m.hdr) {
			break
		}
		m.hn = 0
		n := int64(binary.BigEndian.Uint32(m.hdr[1:]))
		if n > int64(max) {
			return start, true
		}
		m.rem = n
	}
	return 0, false
}
