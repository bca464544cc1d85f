package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// ghzReport is the part of ghz's JSON report (-O json) that the table uses.
type ghzReport struct {
	Count   uint64  `json:"count"`
	RPS     float64 `json:"rps"`
	Latency []struct {
		Percentage int           `json:"percentage"`
		Latency    time.Duration `json:"latency"`
	} `json:"latencyDistribution"`
	Statuses map[string]uint64 `json:"statusCodeDistribution"`
}

// row is one ghz run against one target.
type row struct {
	Conns  int
	Rep    int
	Target string
	OK     uint64
	Total  uint64
	RPS    float64
	P50    time.Duration
	P99    time.Duration
	// CPU is the target process's user+system time over the run; zero
	// when not measured (direct).
	CPU time.Duration
}

// recordMain reads one ghz JSON report and prints it as a TSV row.
func recordMain(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	target := fs.String("target", "", "name of the target")
	conns := fs.Int("conns", 1, "client connections")
	rep := fs.Int("rep", 1, "repetition")
	ticks := fs.Int64("ticks", 0, "utime+stime clock ticks the target used during the run")
	hz := fs.Int64("clk-tck", 100, "clock ticks per second (getconf CLK_TCK)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *target == "" || *hz <= 0 {
		return errors.New("record: want -target, a positive -clk-tck and one ghz JSON file")
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	var rep0 ghzReport
	if err := json.Unmarshal(b, &rep0); err != nil {
		return fmt.Errorf("record %s: %w", fs.Arg(0), err)
	}
	r := row{Conns: *conns, Rep: *rep, Target: *target, OK: rep0.Statuses["OK"], Total: rep0.Count, RPS: rep0.RPS,
		CPU: time.Duration(*ticks) * time.Second / time.Duration(*hz)}
	for _, l := range rep0.Latency {
		switch l.Percentage {
		case 50:
			r.P50 = l.Latency
		case 99:
			r.P99 = l.Latency
		}
	}
	_, err = fmt.Fprintln(out, r.tsv())
	return err
}

func (r row) tsv() string {
	return fmt.Sprintf("%d\t%d\t%s\t%d\t%d\t%.1f\t%d\t%d\t%d",
		r.Conns, r.Rep, r.Target, r.OK, r.Total, r.RPS, r.P50, r.P99, r.CPU)
}

func parseRow(line string) (row, error) {
	var r row
	var p50, p99, cpu int64
	_, err := fmt.Sscanf(line, "%d\t%d\t%s\t%d\t%d\t%g\t%d\t%d\t%d",
		&r.Conns, &r.Rep, &r.Target, &r.OK, &r.Total, &r.RPS, &p50, &p99, &cpu)
	if err != nil {
		return row{}, fmt.Errorf("row %q: %w", line, err)
	}
	r.P50, r.P99, r.CPU = time.Duration(p50), time.Duration(p99), time.Duration(cpu)
	return r, nil
}
