// Command l4 measures strait's TCP proxy against direct connections on
// loopback, side by side in one run: bulk throughput each way (MB/s) and
// new-connection rate (connections/s), interleaved over several rounds,
// reported as medians and as strait/direct ratios. The backend, the proxy
// and the load all run in this process, so they share the machine's cores
// the way a proxy on a busy host would.
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/straitproxy/strait/lb"
	"github.com/straitproxy/strait/proxy/tcpproxy"
)

var exitCode int

func main() {
	defer func() { os.Exit(exitCode) }()
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 4, "interleaved rounds of each measurement")
	flag.Int64Var(&cfg.streamBytes, "bytes", 256<<20, "bytes per stream in the throughput runs")
	flag.IntVar(&cfg.streams, "streams", 4, "parallel streams in the throughput runs")
	flag.DurationVar(&cfg.rateFor, "rate-for", 2*time.Second, "length of each connection-rate run")
	flag.IntVar(&cfg.rateWorkers, "rate-workers", 16, "parallel clients in the connection-rate runs")
	flag.StringVar(&cfg.backendAddr, "backend", "127.0.0.1:0", "address of the in-process backend (fixed, for -also targets to reach)")
	flag.Func("also", "name=host:port[,pid] of another proxy in front of -backend to measure alongside; "+
		"with its pid its CPU time counts in the cost (repeatable)", func(v string) error {
		name, rest, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("want name=host:port[,pid], got %q", v)
		}
		addr, pid, _ := strings.Cut(rest, ",")
		t := target{name: name, addr: addr}
		if pid != "" {
			var err error
			if t.pid, err = strconv.Atoi(pid); err != nil {
				return fmt.Errorf("pid of %s: %w", name, err)
			}
		}
		cfg.also = append(cfg.also, t)
		return nil
	})
	serve := flag.String("serve", "", "only run strait's TCP proxy on this address, in front of -backend, until SIGTERM (for -also)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *serve != "" {
		if err := serveProxy(*serve, cfg.backendAddr); err != nil {
			log.Print(err)
			exitCode = 1
		}
		return
	}
	if err := run(cfg); err != nil {
		log.Print(err)
		exitCode = 1
	}
}

// target is an address to measure; pid, when set, is a process outside
// this one whose CPU time is part of the target's cost.
type target struct {
	name, addr string
	pid        int
}

type config struct {
	backendAddr string
	also        []target
	rounds      int
	streamBytes int64
	streams     int
	rateFor     time.Duration
	rateWorkers int
}

// sample is one measurement: a rate and the process CPU it cost per unit.
type sample struct{ rate, cpuPerUnit float64 }

func run(cfg config) error {
	back, err := startBackend(cfg.backendAddr)
	if err != nil {
		return err
	}
	defer back.Close()
	proxy, lis, err := startProxy("127.0.0.1:0", back.Addr().String())
	if err != nil {
		return err
	}
	defer proxy.Close()

	targets := append([]target{{name: "direct", addr: back.Addr().String()},
		{name: "strait", addr: lis.Addr().String()}}, cfg.also...)
	tests := []struct {
		name, unit string
		fn         func(addr string) (float64, error)
	}{
		{"upload MB/s", "ms CPU/GB", func(a string) (float64, error) { return throughput(a, 'u', cfg) }},
		{"download MB/s", "ms CPU/GB", func(a string) (float64, error) { return throughput(a, 'd', cfg) }},
		{"connections/s", "µs CPU/conn", func(a string) (float64, error) { return connRate(a, cfg) }},
	}
	fmt.Printf("GOMAXPROCS=%s rounds=%d streams=%d bytes/stream=%d rate-workers=%d rate-for=%v\n",
		os.Getenv("GOMAXPROCS"), cfg.rounds, cfg.streams, cfg.streamBytes, cfg.rateWorkers, cfg.rateFor)
	printHeader(targets)
	for _, tc := range tests {
		res := map[string][]sample{}
		for range cfg.rounds {
			for _, tg := range targets {
				s, err := measure(tc.fn, tg, tc.unit)
				if err != nil {
					return fmt.Errorf("%s %s: %w", tc.name, tg.name, err)
				}
				res[tg.name] = append(res[tg.name], s)
			}
		}
		printRow(tc.name, tc.unit, targets, res)
	}
	return nil
}

// startProxy runs strait's TCP proxy on addr with one endpoint, backend.
func startProxy(addr, backend string) (*tcpproxy.Proxy, net.Listener, error) {
	pool := lb.NewPool("bench", lb.Options{})
	pool.Update([]string{backend})
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	proxy := tcpproxy.New(tcpproxy.Options{Name: "bench"}, tcpproxy.NewPoolBalancer(pool), quiet)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy listen: %w", err)
	}
	go proxy.Serve(lis)
	return proxy, lis, nil
}

// serveProxy is the proxy alone, in its own process like a deployed strait.
func serveProxy(addr, backend string) error {
	proxy, _, err := startProxy(addr, backend)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	proxy.Close()
	return nil
}

// measure runs fn against the target and returns its rate and the CPU
// time (this process's and the target's own) per unit of work (GB or
// connection, by unit).
func measure(fn func(string) (float64, error), tg target, unit string) (sample, error) {
	cpu0, t0 := cpuTime(tg.pid), time.Now()
	rate, err := fn(tg.addr)
	if err != nil {
		return sample{}, err
	}
	cpu, wall := cpuTime(tg.pid)-cpu0, time.Since(t0)
	units := rate * wall.Seconds()
	if unit == "ms CPU/GB" {
		return sample{rate, float64(cpu.Milliseconds()) / (units / 1e3)}, nil
	}
	return sample{rate, float64(cpu.Microseconds()) / units}, nil
}

// cpuTime is this process's CPU time plus, when pid is set, that
// process's (read from /proc in clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if pid == 0 {
		return t
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return t
	}
	// Fields after the parenthesised command name: utime and stime are the
	// 12th and 13th.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	for _, s := range f[11:13] {
		ticks, _ := strconv.Atoi(s)
		t += time.Duration(ticks) * 10 * time.Millisecond
	}
	return t
}
