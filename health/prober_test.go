package health

import (
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// verdicts records what a Prober reports.
type verdicts struct {
	mu   sync.Mutex
	last map[string]bool
	n    map[string]int
}

func newVerdicts() *verdicts { return &verdicts{last: map[string]bool{}, n: map[string]int{}} }

func (v *verdicts) report(addr string, serving bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last[addr] = serving
	v.n[addr]++
}

func (v *verdicts) is(addr string, serving bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.last[addr]
	return ok && got == serving
}

func TestProberGRPC(t *testing.T) {
	a := backend.StartTest(t, "a")
	b := backend.StartTest(t, "b")
	v := newVerdicts()
	p := NewProber(GRPC(""), 10*time.Millisecond, time.Second, v.report)
	defer p.Close()
	p.Update([]string{a.Addr(), b.Addr()})
	testutil.WaitFor(t, 5*time.Second, "both serving", func() bool { return v.is(a.Addr(), true) && v.is(b.Addr(), true) })
	b.SetServing(false)
	testutil.WaitFor(t, 5*time.Second, "b not serving", func() bool { return v.is(b.Addr(), false) })
	b.SetServing(true)
	testutil.WaitFor(t, 5*time.Second, "b serving again", func() bool { return v.is(b.Addr(), true) })
	v.mu.Lock()
	if v.n[a.Addr()] != 1 {
		t.Errorf("a reported %d times; only changes are reported", v.n[a.Addr()])
	}
	v.mu.Unlock()
	p.Update([]string{a.Addr()})
	b.Stop()
}

func TestProberTCPAndTimeout(t *testing.T) {
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// silent accepts connections and never answers: a hung server.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		var conns []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	})
	defer wg.Wait()
	defer silent.Close()

	v := newVerdicts()
	tcp := NewProber(TCP(), 10*time.Millisecond, time.Second, v.report)
	tcp.Update([]string{open.Addr().String()})
	testutil.WaitFor(t, 5*time.Second, "listener serving", func() bool { return v.is(open.Addr().String(), true) })
	open.Close()
	testutil.WaitFor(t, 5*time.Second, "closed listener not serving", func() bool { return v.is(open.Addr().String(), false) })
	tcp.Close()

	hung := NewProber(GRPC(""), 10*time.Millisecond, 50*time.Millisecond, v.report)
	defer hung.Close()
	hung.Update([]string{silent.Addr().String()})
	testutil.WaitFor(t, 5*time.Second, "hung server not serving", func() bool { return v.is(silent.Addr().String(), false) })
}
