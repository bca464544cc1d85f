package tcpproxy

import (
	"context"
	"testing"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/upstream"
	"github.com/straitproxy/strait/upstream/static"
)

// A listener fed by a real discovery source through its Guard, as the
// gateway wires it.
func TestFollowStaticSource(t *testing.T) {
	a, b := startBackend(t), startBackend(t)
	h := startProxy(t, Options{})
	g := upstream.NewGuard("test", static.New([]string{a.addr(), b.addr()}), quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	stop := NewPoolBalancer(h.pool).Follow(g, h.proxy)
	defer func() { stop(); cancel(); <-done }()
	testutil.WaitFor(t, waitLong, "set applied", func() bool { return h.pool.Current().Len() == 2 })
	for range 10 {
		if err := h.pingOnce("via static"); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.accepted.Load() + b.accepted.Load(); n != 10 {
		t.Fatalf("backends saw %d connections, want 10", n)
	}
}
