package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// baseTarget is the target every other one is compared with.
const baseTarget = "direct"

// summary is the medians over the repetitions of one target at one
// connection count.
type summary struct {
	Conns   int
	Target  string
	Reps    int
	RPS     float64
	P50     time.Duration
	P99     time.Duration
	Ratio   float64 // median of per-repetition ratios to direct; 0 if none
	CPUPerR time.Duration
	Errors  uint64
}

func tableMain(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("table: want one results file")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("table: %w", err)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		r, err := parseRow(sc.Text())
		if err != nil {
			return fmt.Errorf("table: %w", err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return printTable(out, summarize(rows))
}

// summarize groups rows by connection count and target, keeping the order
// in which targets first appear. Ratios pair each run with the direct run
// of the same repetition, since interleaved neighbours share the machine's
// noise.
func summarize(rows []row) []summary {
	type key struct {
		conns  int
		target string
	}
	direct := map[[2]int]float64{}
	groups := map[key][]row{}
	var order []key
	for _, r := range rows {
		if r.Target == baseTarget {
			direct[[2]int{r.Conns, r.Rep}] = r.RPS
		}
		k := key{r.Conns, r.Target}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	slices.SortStableFunc(order, func(a, b key) int { return a.conns - b.conns })
	out := make([]summary, 0, len(order))
	for _, k := range order {
		out = append(out, summarizeGroup(groups[k], direct))
	}
	return out
}

func summarizeGroup(rs []row, direct map[[2]int]float64) summary {
	s := summary{Conns: rs[0].Conns, Target: rs[0].Target, Reps: len(rs)}
	var rps, ratios []float64
	var p50, p99, cpu []time.Duration
	for _, r := range rs {
		rps = append(rps, r.RPS)
		p50 = append(p50, r.P50)
		p99 = append(p99, r.P99)
		s.Errors += r.Total - r.OK
		if d := direct[[2]int{r.Conns, r.Rep}]; d > 0 {
			ratios = append(ratios, r.RPS/d)
		}
		if r.CPU > 0 && r.OK > 0 {
			cpu = append(cpu, r.CPU/time.Duration(r.OK))
		}
	}
	s.RPS, s.Ratio = median(rps), median(ratios)
	s.P50, s.P99, s.CPUPerR = median(p50), median(p99), median(cpu)
	return s
}

// median of xs; the mean of the middle two for an even count; 0 if empty.
func median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func printTable(out io.Writer, ss []summary) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "conns\ttarget\treps\treq/s\tp50 ms\tp99 ms\t× direct\tCPU µs/req\terrors\t")
	for _, s := range ss {
		ratio, cpu := "-", "-"
		if s.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", s.Ratio)
		}
		if s.CPUPerR > 0 {
			cpu = fmt.Sprintf("%.1f", float64(s.CPUPerR)/float64(time.Microsecond))
		}
		if s.CPUPerR > 0 && s.Target == baseTarget {
			cpu = "(" + cpu + ")" // the backend's, not a proxy's
		}
		fmt.Fprintf(w, "%d\t%s\t%d\t%.0f\t%.2f\t%.2f\t%s\t%s\t%d\t\n", s.Conns, s.Target, s.Reps, s.RPS,
			ms(s.P50), ms(s.P99), ratio, cpu, s.Errors)
	}
	return w.Flush()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
