package h2relay_test

import (
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/proxy/h2relay"
	"golang.org/x/net/http2"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// With the process's budget spent by streams whose client never takes
// its replies, the relay sends idle connections GOAWAY and resets the
// streams holding the most bytes; once that client is gone it serves
// again.
func TestBudgetShedsHeaviestStreams(t *testing.T) {
	b := startBackend(t, "b0")
	budget := h2relay.NewBudget(1 << 20)
	addr := startRelay(t, h2relay.Options{Budget: budget, StreamWindow: 256 << 10}, b.addr)
	idle := dialRaw(t, addr)

	req := bigReplies(t, 4, 1<<20)
	r := dialRaw(t, addr)
	if err := r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	// Each stream holds what its upstream window let in: 64 KiB, as the
	// window does not grow for a client that takes nothing.
	for id := uint32(1); id <= 39; id += 2 {
		if err := r.headers(id, false); err != nil {
			t.Fatal(err)
		}
		if err := r.fr.WriteData(id, false, req); err != nil {
			t.Fatal(err)
		}
	}
	r.until("a stream reset for the budget", func(f http2.Frame) bool {
		rst, ok := f.(*http2.RSTStreamFrame)
		return ok && rst.ErrCode == http2.ErrCodeEnhanceYourCalm
	})
	idle.goAway(http2.ErrCodeNo)
	st := budget.Stats()
	if st.StreamResets == 0 || st.IdleGoAways == 0 {
		t.Fatalf("budget stats %+v: want resets and GOAWAYs", st)
	}
	r.nc.Close()
	testutil.WaitFor(t, 20*time.Second, "the budget to be free again", func() bool { return budget.Stats().Used == 0 })
	client := dialClient(t, addr)
	if _, err := client.UnaryCall(ctxTimeout(t, 10*time.Second), &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("a call after the relay shed load: %v", err)
	}
}
