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
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	tcpproxy "github.com/straitproxy/strait/proxy/tcp"

	"github.com/straitproxy/strait/lb"
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
	if err := run(cfg); err != nil {
		log.Print(err)
		exitCode = 1
	}
}

type config struct {
	rounds      int
	streamBytes int64
	streams     int
	rateFor     time.Duration
	rateWorkers int
}

// sample is one measurement: a rate and the process CPU it cost per unit.
type sample struct{ rate, cpuPerUnit float64 }

func run(cfg config) error {
	back, err := startBackend()
	if err != nil {
		return err
	}
	defer back.Close()
	pool := lb.NewPool("bench", lb.Options{})
	pool.Update([]string{back.Addr().String()})
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	proxy := tcpproxy.New(tcpproxy.Options{Name: "bench"}, tcpproxy.NewPoolBalancer(pool), quiet)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("proxy listen: %w", err)
	}
	go proxy.Serve(lis)
	defer proxy.Close()

	targets := []struct{ name, addr string }{{"direct", back.Addr().String()}, {"strait", lis.Addr().String()}}
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
	fmt.Printf("%-15s %12s %12s %7s   %-12s %9s %9s\n", "test", "direct", "strait", "ratio", "cost", "direct", "strait")
	for _, tc := range tests {
		res := map[string][]sample{}
		for range cfg.rounds {
			for _, tg := range targets {
				s, err := measure(tc.fn, tg.addr, tc.unit)
				if err != nil {
					return fmt.Errorf("%s %s: %w", tc.name, tg.name, err)
				}
				res[tg.name] = append(res[tg.name], s)
			}
		}
		d, s := median(res["direct"]), median(res["strait"])
		fmt.Printf("%-15s %12.0f %12.0f %7.2f   %-12s %9.1f %9.1f\n",
			tc.name, d.rate, s.rate, s.rate/d.rate, tc.unit, d.cpuPerUnit, s.cpuPerUnit)
	}
	return nil
}

// measure runs fn against addr and returns its rate and the process CPU
// time per unit of work (GB or connection, by unit).
func measure(fn func(string) (float64, error), addr, unit string) (sample, error) {
	cpu0, t0 := cpuTime(), time.Now()
	rate, err := fn(addr)
	if err != nil {
		return sample{}, err
	}
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	units := rate * wall.Seconds()
	if unit == "ms CPU/GB" {
		return sample{rate, float64(cpu.Milliseconds()) / (units / 1e3)}, nil
	}
	return sample{rate, float64(cpu.Microseconds()) / units}, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []sample) sample {
	slices.SortFunc(xs, func(a, b sample) int {
		switch {
		case a.rate < b.rate:
			return -1
		case a.rate > b.rate:
			return 1
		}
		return 0
	})
	return xs[len(xs)/2]
}
