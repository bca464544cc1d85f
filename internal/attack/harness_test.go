package attack_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/straitproxy/strait/internal/attack"
	"github.com/straitproxy/strait/internal/testutil"
	"github.com/straitproxy/strait/internal/testutil/certs"
)

// strait and the demo backend are built once per test binary, without
// the race detector (strait's memory is measured) and run as processes
// of their own, so /proc/PID/status counts strait alone.
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries returns the paths of the strait and demo-backend binaries.
func binaries(t *testing.T) (strait, backend string) {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "strait-attack-")
		if binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir,
			"github.com/straitproxy/strait/cmd/strait",
			"github.com/straitproxy/strait/examples/backend").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "strait"), filepath.Join(binDir, "backend")
}

// startProc starts a process for the test and stops it by PID at the
// end, failing the test if it had died.
func startProc(t *testing.T, name, addr string, path string, args ...string) *attack.Proc {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	p, err := attack.StartProc(log, path, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(10 * time.Second); err != nil {
			out, _ := os.ReadFile(log)
			t.Errorf("%s: %v\n%s", name, err, tail(out))
		}
	})
	if err := p.WaitListening(addr, 30*time.Second); err != nil {
		out, _ := os.ReadFile(log)
		t.Fatalf("%s: %v\n%s", name, err, tail(out))
	}
	return p
}

// tail is the end of a log, for failure messages.
func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// startBackend starts one demo backend and returns its address.
func startBackend(t *testing.T) string {
	t.Helper()
	_, backend := binaries(t)
	addr := testutil.FreeAddr(t)
	startProc(t, "backend", addr, backend, "-addr", addr, "-name", "b0")
	return addr
}

// straitUnderTest is a strait process with an h2c and a TLS listener in
// front of one backend.
type straitUnderTest struct {
	proc   *attack.Proc
	target attack.Target
}

// startStrait starts strait on a generated configuration with default
// limits. extra is appended to the file.
func startStrait(t *testing.T, backendAddr, extra string) *straitUnderTest {
	t.Helper()
	bin, _ := binaries(t)
	ca := certs.NewCA(t, "attack")
	cert, key := ca.Issue(t, "strait")
	tg := attack.Target{Addr: testutil.FreeAddr(t), TLSAddr: testutil.FreeAddr(t)}
	cfg := fmt.Sprintf(`listeners:
  - {name: h2c, address: %q, default_cluster: b}
  - {name: tls, address: %q, default_cluster: b, tls: {cert: %q, key: %q}}
clusters:
  b: {endpoints: [%q]}
timeouts: {connect: 2s, drain: 1s}
%s`, tg.Addr, tg.TLSAddr, cert, key, backendAddr, extra)
	file := filepath.Join(t.TempDir(), "strait.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "strait", tg.Addr, bin, "serve", "-config", file, "-log-level", "warn")
	if err := p.WaitListening(tg.TLSAddr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return &straitUnderTest{proc: p, target: tg}
}

// mem reads strait's memory, failing the test if it cannot.
func (s *straitUnderTest) mem(t *testing.T) attack.Mem {
	t.Helper()
	m, err := attack.ReadMem(s.proc.PID())
	if err != nil {
		t.Fatalf("strait's memory: %v", err)
	}
	return m
}

const mib = 1 << 20
