package h2relay

// blockCache remembers header blocks that encoded to indexed
// representations only, keyed by their fields less the volatile ones. Such an encoding leaves the encoder's dynamic
// table as it was, so while nothing else changes the table the same
// fields encode to the same bytes again: gRPC repeats the same request
// headers, response headers and OK trailers on every call, and a hit
// skips the encoder's table searches. Guarded by conn.mu with the
// encoder.
type blockCache struct {
	entries [4]cachedBlock
	next    int
}

type cachedBlock struct {
	fields []hpackField
	block  []byte
}

// lookup returns the cached encoding of fields less the volatile ones,
// or nil.
func (bc *blockCache) lookup(fields []hpackField) []byte {
	for i := range bc.entries {
		if e := &bc.entries[i]; e.block != nil && stableEqual(e.fields, fields) {
			return e.block
		}
	}
	return nil
}

// stableEqual says whether fields less the volatile ones are stable.
func stableEqual(stable, fields []hpackField) bool {
	i := 0
	for _, f := range fields {
		if volatile(f.Name) {
			continue
		}
		if i == len(stable) || stable[i] != f {
			return false
		}
		i++
	}
	return i == len(stable)
}

// encoded records a fresh encoding of fields less the volatile ones: kept when it is all
// indexed, and otherwise (the dynamic table changed) every entry is
// dropped.
func (bc *blockCache) encoded(fields []hpackField, block []byte) {
	if !allIndexed(block) {
		bc.reset()
		return
	}
	e := &bc.entries[bc.next]
	bc.next = (bc.next + 1) % len(bc.entries)
	e.fields = e.fields[:0]
	for _, f := range fields {
		if !volatile(f.Name) {
			e.fields = append(e.fields, f)
		}
	}
	e.block = append(e.block[:0], block...)
}

func (bc *blockCache) reset() {
	for i := range bc.entries {
		bc.entries[i].block = nil
	}
}

// allIndexed says whether block holds only indexed header field
// representations (RFC 7541 §6.1): a first byte with the top bit set
// and a 7-bit prefix integer (§5.1).
func allIndexed(block []byte) bool {
	for i := 0; i < len(block); {
		b := block[i]
		i++
		if b&0x80 == 0 {
			return false
		}
		if b&0x7f != 0x7f {
			continue
		}
		for i < len(block) && block[i]&0x80 != 0 {
			i++
		}
		if i == len(block) {
			return false
		}
		i++
	}
	return true
}
