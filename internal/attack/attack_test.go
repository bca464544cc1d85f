package attack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/attack"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/backend"
)

// Bounds on strait's resident memory, as the issue sets them: the peak
// during any attack (strait's own start, its legitimate load and the
// attack together), and the cost of one idle connection and one idle
// stream (the rise in VmRSS while they are held, divided by their
// count; the idle streams' connections are counted in their streams).
const (
	peakBound       = 96 * mib
	idleConnBound   = 8000 // 8 KB
	idleStreamBound = 4000 // 4 KB
	// minSuccess is the share of legitimate calls that must succeed
	// while an attack runs.
	minSuccess = 0.995
)

// idleBounds are the most one idle connection and one idle stream may
// cost.
var idleBounds = map[string]int64{"idle-conns": idleConnBound, "idle-streams": idleStreamBound}

// idleCost holds what attack a holds (idle connections or streams) on a
// fresh strait without load and checks what each costs: the rise in
// VmRSS while they are held, divided by their count. Without load, as
// bench/attackbench measures it: a legitimate load's garbage, collected
// only as the heap grows, would be counted in too (about 2 KiB more per
// idle connection).
func idleCost(t *testing.T, a attack.Attack, backendAddr string, bound int64) string {
	s := startStrait(t, backendAddr, "")
	before := s.mem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var held attack.Mem
	out, err := a.Run(ctx, s.target, func() { held = s.mem(t) })
	if err != nil {
		t.Fatalf("attack: %v (%v)", err, out)
	}
	if out.Held == 0 || held.Now == 0 {
		t.Fatalf("nothing was held: %v", out)
	}
	per := (held.Now - before.Now) / int64(out.Held)
	row := fmt.Sprintf("%s, no load | %.1f KiB per %s", a.Name, float64(per)/1024, a.Unit)
	t.Log(row)
	if per > bound {
		t.Errorf("an %s costs %d bytes of RSS, over the bound of %d", a.Unit, per, bound)
	}
	return row
}

// TestAttacks runs every attack of the harness against its own strait
// process while 10 legitimate callers use the same listener: strait must
// survive it, serve ≥ 99.5 % of the legitimate calls, stop the attacks
// that it must stop with the right GOAWAY, and stay under its memory
// bounds.
func TestAttacks(t *testing.T) {
	if attack.HoldHeader != backend.HoldKey {
		t.Fatalf("attack.HoldHeader %q is not the backend's %q", attack.HoldHeader, backend.HoldKey)
	}
	if err := attack.RaiseNoFile(3 * 2500); err != nil {
		t.Fatal(err)
	}
	backendAddr := startBackend(t)
	var rows []string
	for _, a := range attack.All(attack.Scale{}) {
		t.Run(a.Name, func(t *testing.T) {
			rows = append(rows, runAttack(t, a, backendAddr))
		})
		if bound, ok := idleBounds[a.Name]; ok {
			t.Run(a.Name+"/memory", func(t *testing.T) {
				rows = append(rows, idleCost(t, a, backendAddr, bound))
			})
		}
	}
	t.Logf("attack | survived | legitimate ok/all (%%) p99 | strait peak RSS | outcome\n%s", strings.Join(rows, "\n"))
}

// runAttack runs a against a fresh strait and checks it; it returns a
// line for the summary.
func runAttack(t *testing.T, a attack.Attack, backendAddr string) string {
	s := startStrait(t, backendAddr, "")
	addr := s.target.Addr
	if a.TLS {
		addr = s.target.TLSAddr
	}
	load, err := attack.StartLoad(addr, attack.LoadOptions{Pace: 5 * time.Millisecond, TLS: a.TLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { load.Stop() })
	testutil.WaitFor(t, 30*time.Second, "legitimate calls flowing", func() bool { return load.OK() >= 50 })
	before := s.mem(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var held attack.Mem
	out, err := a.Run(ctx, s.target, func() { held = s.mem(t) })
	cancel()
	if err != nil {
		t.Errorf("attack: %v (%v)", err, out)
	}
	// The legitimate callers go on after the attack.
	n := load.OK()
	testutil.WaitFor(t, 30*time.Second, "legitimate calls after the attack", func() bool { return load.OK() >= n+50 })
	st := load.Stop()
	m := s.mem(t)
	exited, exitErr := s.proc.Exited()

	row := fmt.Sprintf("%s | %v | %d/%d (%.2f %%) p99 %v | %.1f MiB | %v",
		a.Name, !exited, st.OK, st.OK+st.Failed, 100*st.SuccessRate(), st.P99.Round(time.Millisecond), float64(m.Peak)/mib, out)
	t.Log(row)
	if exited {
		t.Fatalf("strait died: %v", exitErr)
	}
	if st.SuccessRate() < minSuccess {
		t.Errorf("legitimate calls: %d of %d failed (%.2f %% succeeded, want ≥ %.1f %%); first: %v",
			st.Failed, st.OK+st.Failed, 100*st.SuccessRate(), 100*minSuccess, st.FirstErr)
	}
	if a.Stop != 0 && !out.StoppedWith(a.Stop) {
		t.Errorf("want every attacking connection ended with GOAWAY %v; saw %v", a.Stop, out)
	}
	if m.Peak > peakBound {
		t.Errorf("strait's peak RSS %.1f MiB, over the bound of %d MiB", float64(m.Peak)/mib, peakBound/mib)
	}
	if a.Unit != "" && out.Held > 0 && held.Now > 0 {
		// Under load this includes the garbage the load makes meanwhile:
		// logged, and bounded below on a strait without load.
		per := (held.Now - before.Now) / int64(out.Held)
		row += fmt.Sprintf(" | %.1f KiB per %s under load", float64(per)/1024, a.Unit)
	}
	return row
}
