package main

import (
	"strings"
	"testing"
	"time"
)

func TestSummarizePairsRatiosByRepetition(t *testing.T) {
	rows := []row{
		{Conns: 10, Rep: 1, Target: "direct", OK: 100, Total: 100, RPS: 1000, P50: 2 * time.Millisecond},
		{Conns: 10, Rep: 1, Target: "strait", OK: 50, Total: 52, RPS: 600, CPU: 5 * time.Millisecond},
		{Conns: 1, Rep: 1, Target: "direct", OK: 100, Total: 100, RPS: 2000},
		{Conns: 1, Rep: 1, Target: "strait", OK: 100, Total: 100, RPS: 1000, CPU: 4 * time.Millisecond},
		{Conns: 1, Rep: 2, Target: "direct", OK: 100, Total: 100, RPS: 1000},
		{Conns: 1, Rep: 2, Target: "strait", OK: 100, Total: 100, RPS: 700, CPU: 2 * time.Millisecond},
	}
	got := summarize(rows)
	if len(got) != 4 {
		t.Fatalf("got %d summaries, want 4: %+v", len(got), got)
	}
	// Conns 1 sorts first; within it, targets keep their first order.
	s := got[1]
	if s.Conns != 1 || s.Target != "strait" || s.Reps != 2 {
		t.Fatalf("second summary is %+v, want conns 1 strait over 2 reps", s)
	}
	// Ratios 0.5 and 0.7 pair with their own repetition's direct run;
	// the median of the raw rates would give 850/1500 instead.
	if s.Ratio < 0.599 || s.Ratio > 0.601 {
		t.Errorf("ratio %v, want 0.60", s.Ratio)
	}
	if s.CPUPerR != 30*time.Microsecond {
		t.Errorf("CPU per request %v, want 30µs (median of 40 and 20)", s.CPUPerR)
	}
	if got[3].Errors != 2 || got[3].CPUPerR != 100*time.Microsecond {
		t.Errorf("conns 10 strait: %+v, want 2 errors and 100µs/req", got[3])
	}
}

func TestRowRoundTrip(t *testing.T) {
	r := row{Conns: 10, Rep: 3, Target: "baseline", OK: 7, Total: 9, RPS: 123.5,
		P50: time.Millisecond, P99: 9 * time.Millisecond, CPU: time.Second}
	got, err := parseRow(r.tsv())
	if err != nil {
		t.Fatal(err)
	}
	if got != r {
		t.Errorf("round trip gave %+v, want %+v", got, r)
	}
}

func TestTableMarksDirectCPUAsTheBackends(t *testing.T) {
	var b strings.Builder
	ss := summarize([]row{{Conns: 1, Rep: 1, Target: "direct", OK: 10, Total: 10, RPS: 10, CPU: 200 * time.Microsecond}})
	if err := printTable(&b, ss); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(20.0)") {
		t.Errorf("table:\n%s\nwant the backend's 20 µs per call in parentheses", b.String())
	}
}

func TestTablePrintsDashesWithoutProxyCPU(t *testing.T) {
	var b strings.Builder
	ss := summarize([]row{{Conns: 1, Rep: 1, Target: "direct", OK: 10, Total: 10, RPS: 10}})
	if err := printTable(&b, ss); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "1.00") || !strings.Contains(lines[1], " - ") {
		t.Errorf("table:\n%s\nwant a header and a direct row with ratio 1.00 and no CPU", b.String())
	}
}
