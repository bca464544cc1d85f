package h2relay

import (
	"testing"
	"unsafe"
)

// Every call allocates one stream. With the 8-byte header the runtime
// puts before objects over 512 bytes that hold pointers, past 632 bytes
// it moves from the 640-byte size class to 704: 64 more bytes per call.
func TestStreamFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(stream{}); n+8 > 640 {
		t.Fatalf("stream is %d bytes, over the 640-byte size class with its header", n)
	}
}
