//go:build !linux

package h2relay

import (
	"io"
	"net"
)

// newSocketIO is nc itself off Linux.
func newSocketIO(nc net.Conn) io.ReadWriter { return nc }

// limitUnsent does nothing here: TCP_NOTSENT_LOWAT is set on Linux only.
func limitUnsent(net.Conn, int) {}
