//go:build !linux

package h2relay

import (
	"io"
	"net"
)

// newSocketIO is nc itself off Linux.
func newSocketIO(nc net.Conn) io.ReadWriter { return nc }
