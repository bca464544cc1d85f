package testutil

import (
	"net"
	"strconv"
	"testing"
)

// FreePort gives ports a server can bind, below the ephemeral range
// where one is known, so that no connection can have taken them.
func TestFreePortIsBindableAndOutsideTheEphemeralRange(t *testing.T) {
	low, known := ephemeralLow()
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if known && low > 13000 && (p >= low || p < low-12000) {
			t.Fatalf("port %d is not in [%d, %d)", p, low-12000, low)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		l.Close()
	}
}
