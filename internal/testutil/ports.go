package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server that must be told its port before it binds it (a child process,
// an embedded etcd). It comes from below the kernel's ephemeral range: a
// port from that range, as a listener on port 0 is given, can be taken by
// any outgoing connection in the meantime, and with the test packages
// running side by side one was ("bind: address already in use").
func FreePort() (int, error) {
	if low, ok := ephemeralLow(); ok && low > 13000 {
		base := low - 12000 // clear of the ports bench/ and the demo fix
		for range 100 {
			p := base + rand.IntN(low-base)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				l.Close()
				return p, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is FreePort as a host:port, failing the test without one.
func FreeAddr(t testing.TB) string {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(p)
}

// ephemeralLow is the first port of Linux's ephemeral range.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	low, err := strconv.Atoi(f[0])
	return low, err == nil
}

// DeadAddr is a loopback address where nothing listens, for an endpoint
// that refuses every connection: a free port below the ephemeral range,
// which no outgoing connection will take in the meantime.
func DeadAddr(t testing.TB) string {
	t.Helper()
	return FreeAddr(t)
}
