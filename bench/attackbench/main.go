// Command attackbench runs the attacks of internal/attack on strait and
// on other proxies side by side (HAProxy, nghttpx), each in front of the
// same demo backend, with a legitimate load on the attacked listener,
// and prints what each proxy's memory (VmHWM, /proc) and the legitimate
// calls did. Every attack runs on a fresh process of each proxy, the
// proxies interleaved attack by attack so the machine's noise hits all
// alike. Then the memory of an idle connection and of an idle stream,
// without load. Loopback only; every process it starts is stopped by
// PID. bench/attack.sh builds what it needs and runs it.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/straitproxy/strait/internal/attack"
	"github.com/straitproxy/strait/internal/testutil"
)

func main() {
	var (
		straitBin  = flag.String("strait", "bin/strait", "strait binary")
		backendBin = flag.String("backend", "bin/demo-backend", "demo backend binary")
		proxies    = flag.String("proxies", "strait,haproxy,nghttpx", "proxies to compare, of strait, haproxy, nghttpx")
		only       = flag.String("attacks", "", "comma-separated attack names (default: all)")
		callers    = flag.Int("callers", 10, "legitimate callers, one connection each")
		pace       = flag.Duration("pace", 2*time.Millisecond, "least time between two calls of one caller")
		outDir     = flag.String("out", "", "directory for logs and configurations (default: a temporary one)")
	)
	flag.Parse()
	go stopOnSignal()
	if err := run(*straitBin, *backendBin, strings.Split(*proxies, ","), *only, attack.LoadOptions{Callers: *callers, Pace: *pace}, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "attackbench:", err)
		os.Exit(1)
	}
}

// running are the processes started and not yet stopped, stopped by
// stopOnSignal if the run is interrupted.
var running struct {
	sync.Mutex
	procs map[*attack.Proc]bool
}

// startProc starts a process and keeps it in running until stopProc.
func startProc(logFile, path string, args ...string) (*attack.Proc, error) {
	running.Lock()
	defer running.Unlock()
	p, err := attack.StartProc(logFile, path, args...)
	if err == nil {
		if running.procs == nil {
			running.procs = map[*attack.Proc]bool{}
		}
		running.procs[p] = true
	}
	return p, err
}

// stopProc stops p by its PID.
func stopProc(p *attack.Proc) {
	p.Stop(10 * time.Second)
	running.Lock()
	delete(running.procs, p)
	running.Unlock()
}

// stopOnSignal stops every running process on SIGINT or SIGTERM, and
// exits.
func stopOnSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	running.Lock()
	for p := range running.procs {
		p.Stop(5 * time.Second)
	}
	os.Exit(130)
}

// proxy starts one kind of proxy on a target's two listeners.
type proxy struct {
	name  string
	start func(b *bench, tg attack.Target) (*attack.Proc, error)
}

var known = map[string]proxy{
	"strait":  {"strait", startStrait},
	"haproxy": {"HAProxy", startHAProxy},
	"nghttpx": {"nghttpx", startNghttpx},
}

// bench is one run's shared state.
type bench struct {
	dir, strait, backendAddr string
	certFile, keyFile, pem   string
	load                     attack.LoadOptions
	seq                      int
}

// result is one attack on one proxy.
type result struct {
	survived bool
	load     attack.LoadStats
	peak     int64
	out      attack.Outcome
	err      error
	perUnit  int64 // bytes of RSS per thing held, when the attack has a unit
}

func run(straitBin, backendBin string, names []string, only string, load attack.LoadOptions, dir string) error {
	var ps []proxy
	for _, n := range names {
		p, ok := known[n]
		if !ok {
			return fmt.Errorf("unknown proxy %q", n)
		}
		ps = append(ps, p)
	}
	if err := attack.RaiseNoFile(16384); err != nil {
		return err
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "strait-attackbench-")
		if err != nil {
			return err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b := &bench{dir: dir, strait: straitBin, load: load}
	if err := b.writeCert(); err != nil {
		return err
	}
	be, err := b.startBackend(backendBin)
	if err != nil {
		return err
	}
	defer stopProc(be)

	attacks := []attack.Attack{{Name: "none", Run: func(ctx context.Context, _ attack.Target, _ func()) (attack.Outcome, error) {
		return attack.Outcome{}, nil
	}}}
	for _, a := range attack.All(attack.Scale{}) {
		if only == "" || strings.Contains(","+only+",", ","+a.Name+",") {
			attacks = append(attacks, a)
		}
	}
	results := map[string]map[string]result{}
	for _, a := range attacks {
		results[a.Name] = map[string]result{}
		for _, p := range ps {
			r := b.once(p, a, true)
			results[a.Name][p.name] = r
			fmt.Fprintf(os.Stderr, "%-22s %-8s survived=%v legit %d/%d p99 %v peak %.1f MiB %v err=%v\n", a.Name, p.name, r.survived,
				r.load.OK, r.load.OK+r.load.Failed, r.load.P99.Round(time.Millisecond), float64(r.peak)/(1<<20), r.out, r.err)
		}
	}
	idle := map[string]map[string]result{}
	for _, a := range attack.All(attack.Scale{}) {
		if a.Unit == "" || a.TLS {
			continue
		}
		idle[a.Unit] = map[string]result{}
		for _, p := range ps {
			r := b.once(p, a, false)
			idle[a.Unit][p.name] = r
			fmt.Fprintf(os.Stderr, "%-22s %-8s no load: %.1f KiB each %v err=%v\n", a.Name, p.name, float64(r.perUnit)/1024, r.out, r.err)
		}
	}
	printTables(ps, attacks, results, idle, load)
	fmt.Fprintln(os.Stderr, "logs and configurations in", dir)
	return nil
}

// once runs attack a on a fresh process of p, with the legitimate load
// when withLoad.
func (b *bench) once(p proxy, a attack.Attack, withLoad bool) result {
	var r result
	tg, err := b.target()
	if err != nil {
		return result{err: err}
	}
	proc, err := p.start(b, tg)
	if err != nil {
		return result{err: err}
	}
	defer stopProc(proc)
	for _, addr := range []string{tg.Addr, tg.TLSAddr} {
		if err := proc.WaitListening(addr, 30*time.Second); err != nil {
			return result{err: err}
		}
	}
	var load *attack.Load
	if withLoad {
		addr := tg.Addr
		if a.TLS {
			addr = tg.TLSAddr
		}
		lo := b.load
		lo.TLS = a.TLS
		if load, err = attack.StartLoad(addr, lo); err != nil {
			return result{err: err}
		}
		defer load.Stop()
		if !waitFor(30*time.Second, func() bool { return load.OK() >= 50 }) {
			return result{err: errors.New("no legitimate call got through before the attack")}
		}
	}
	before, err := readMem(proc)
	if err != nil {
		return result{err: err}
	}
	var held attack.Mem
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	r.out, r.err = a.Run(ctx, tg, func() { held, _ = readMem(proc) })
	cancel()
	if withLoad {
		// At least 50 more calls, and 5 s of load from the attack's
		// start, so that a short attack and a long one are judged on
		// comparable counts.
		n := load.OK()
		waitFor(30*time.Second, func() bool { return load.OK() >= n+50 && time.Since(start) >= loadSpan })
		r.load = load.Stop()
	}
	m, err := readMem(proc)
	if err != nil {
		r.err = errors.Join(r.err, err)
	}
	r.peak = m.Peak
	done, _ := proc.Exited()
	r.survived = !done
	if a.Unit != "" && r.out.Held > 0 && held.Now > 0 {
		r.perUnit = (held.Now - before.Now) / int64(r.out.Held)
	}
	return r
}

// loadSpan is the least time the legitimate load runs from an attack's
// start.
const loadSpan = 5 * time.Second

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// readMem is the memory of proc and of the processes it started.
func readMem(proc *attack.Proc) (attack.Mem, error) {
	m, err := attack.ReadMem(proc.PID())
	if err != nil {
		return m, err
	}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", proc.PID(), proc.PID()))
	for _, f := range strings.Fields(string(kids)) {
		pid, _ := strconv.Atoi(f)
		if k, err := attack.ReadMem(pid); err == nil {
			m.Peak += k.Peak
			m.Now += k.Now
		}
	}
	return m, nil
}

// target picks two free loopback ports.
func (b *bench) target() (attack.Target, error) {
	var ports [2]int
	for i := range ports {
		p, err := testutil.FreePort()
		if err != nil {
			return attack.Target{}, err
		}
		ports[i] = p
	}
	if ports[0] == ports[1] {
		return b.target()
	}
	return attack.Target{Addr: "127.0.0.1:" + strconv.Itoa(ports[0]), TLSAddr: "127.0.0.1:" + strconv.Itoa(ports[1])}, nil
}

// file writes a configuration file of the run and returns its path.
func (b *bench) file(name, body string) (string, error) {
	b.seq++
	path := filepath.Join(b.dir, fmt.Sprintf("%03d-%s", b.seq, name))
	return path, os.WriteFile(path, []byte(body), 0o644)
}

func (b *bench) log(name string) string {
	return filepath.Join(b.dir, fmt.Sprintf("%03d-%s.log", b.seq, name))
}

func (b *bench) startBackend(bin string) (*attack.Proc, error) {
	p, err := testutil.FreePort()
	if err != nil {
		return nil, err
	}
	b.backendAddr = "127.0.0.1:" + strconv.Itoa(p)
	proc, err := startProc(filepath.Join(b.dir, "backend.log"), bin, "-addr", b.backendAddr, "-name", "b0")
	if err != nil {
		return nil, err
	}
	return proc, proc.WaitListening(b.backendAddr, 30*time.Second)
}

// startStrait runs strait with its default limits.
func startStrait(b *bench, tg attack.Target) (*attack.Proc, error) {
	cfg, err := b.file("strait.yaml", fmt.Sprintf(`listeners:
  - {name: h2c, address: %q, default_cluster: b}
  - {name: tls, address: %q, default_cluster: b, tls: {cert: %q, key: %q}}
clusters:
  b: {endpoints: [%q]}
timeouts: {connect: 2s, drain: 1s}
`, tg.Addr, tg.TLSAddr, b.certFile, b.keyFile, b.backendAddr))
	if err != nil {
		return nil, err
	}
	return startProc(b.log("strait"), b.strait, "serve", "-config", cfg, "-log-level", "warn")
}

// startHAProxy runs HAProxy as bench/haproxy.cfg does for the throughput
// comparison (h2c both sides, generous timeouts), with a TLS listener
// beside it and maxconn raised for the idle connections.
func startHAProxy(b *bench, tg attack.Target) (*attack.Proc, error) {
	cfg, err := b.file("haproxy.cfg", fmt.Sprintf(`global
    maxconn 6000
    log stdout format raw local0 err

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s

frontend grpc
    bind %s proto h2
    bind %s ssl crt %s alpn h2
    default_backend greeter

backend greeter
    server b0 %s proto h2
`, tg.Addr, tg.TLSAddr, b.pem, b.backendAddr))
	if err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, err
	}
	return startProc(b.log("haproxy"), bin, "-db", "-f", cfg)
}

// startNghttpx runs nghttpx in one process, h2c and TLS frontends, an h2
// backend.
func startNghttpx(b *bench, tg attack.Target) (*attack.Proc, error) {
	bin, err := exec.LookPath("nghttpx")
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(tg.Addr, ":")
	thost, tport, _ := strings.Cut(tg.TLSAddr, ":")
	bhost, bport, _ := strings.Cut(b.backendAddr, ":")
	b.seq++
	return startProc(b.log("nghttpx"), bin, "--conf=/dev/null", "--single-process", "--workers=1",
		fmt.Sprintf("--frontend=%s,%s;no-tls", host, port),
		fmt.Sprintf("--frontend=%s,%s", thost, tport),
		fmt.Sprintf("--backend=%s,%s;;proto=h2", bhost, bport),
		b.keyFile, b.certFile)
}

// writeCert makes a throwaway self-signed certificate for 127.0.0.1: PEM
// files for strait and nghttpx, and the two in one for HAProxy.
func (b *bench) writeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attackbench"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	b.certFile, b.keyFile, b.pem = filepath.Join(b.dir, "cert.pem"), filepath.Join(b.dir, "key.pem"), filepath.Join(b.dir, "both.pem")
	for path, data := range map[string][]byte{b.certFile: certPEM, b.keyFile: keyPEM, b.pem: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
