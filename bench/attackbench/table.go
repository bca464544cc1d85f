package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/straitproxy/strait/internal/attack"
)

// printTables prints the per-attack table and the idle memory table in
// Markdown.
func printTables(ps []proxy, attacks []attack.Attack, results map[string]map[string]result, idle map[string]map[string]result, load attack.LoadOptions) {
	fmt.Printf("Legitimate load: %d callers of SayHello, one connection each, a call at most every %v per caller, 3 s per call, for at least %v from the attack's start; p99 also as a multiple of the proxy's p99 without attack (none). Peak RSS is VmHWM of a fresh process per attack.\n\n", load.Callers, load.Pace, loadSpan)
	head := "| attack |"
	sep := "|---|"
	for _, p := range ps {
		head += fmt.Sprintf(" %s: legit ok, p99 | %s: peak RSS | %s: stopped by |", p.name, p.name, p.name)
		sep += "---|---|---|"
	}
	if len(ps) > 1 {
		head += fmt.Sprintf(" %s / %s peak |", ps[0].name, ps[1].name)
		sep += "---|"
	}
	fmt.Println(head)
	fmt.Println(sep)
	for _, a := range attacks {
		row := "| " + a.Name + " |"
		for _, p := range ps {
			r := results[a.Name][p.name]
			if r.err != nil && r.peak == 0 {
				row += fmt.Sprintf(" error: %v | | |", oneLine(r.err))
				continue
			}
			legit := fmt.Sprintf("%.2f %% of %d, %v", 100*r.load.SuccessRate(), r.load.OK+r.load.Failed, r.load.P99.Round(time.Millisecond))
			if base := results["none"][p.name].load.P99; a.Name != "none" && base > 0 {
				legit += fmt.Sprintf(" (%.1f×)", float64(r.load.P99)/float64(base))
			}
			if !r.survived {
				legit = "DIED; " + legit
			}
			row += fmt.Sprintf(" %s | %.1f MiB | %s |", legit, mib(r.peak), stoppedBy(r.out))
		}
		if len(ps) > 1 {
			a, b := results[a.Name][ps[0].name], results[a.Name][ps[1].name]
			if b.peak > 0 {
				row += fmt.Sprintf(" %.2f× |", float64(a.peak)/float64(b.peak))
			} else {
				row += " |"
			}
		}
		fmt.Println(row)
	}
	fmt.Println()
	fmt.Println("Memory per idle thing, no load (rise of VmRSS while held ÷ count):")
	fmt.Println()
	head, sep = "| held |", "|---|"
	for _, p := range ps {
		head += " " + p.name + " |"
		sep += "---|"
	}
	fmt.Println(head)
	fmt.Println(sep)
	for _, unit := range []string{"idle connection", "idle stream"} {
		row := "| " + unit + " |"
		for _, p := range ps {
			r := idle[unit][p.name]
			if r.err != nil {
				row += fmt.Sprintf(" %.1f KiB (%v) |", float64(r.perUnit)/1024, oneLine(r.err))
				continue
			}
			row += fmt.Sprintf(" %.1f KiB ×%d |", float64(r.perUnit)/1024, r.out.Held)
		}
		fmt.Println(row)
	}
}

// stoppedBy says how the proxy ended the attacking connections.
func stoppedBy(o attack.Outcome) string {
	if o.Conns == 0 || len(o.GoAways) == 0 && o.Ended == 0 {
		return "—"
	}
	var parts []string
	for code, n := range o.GoAways {
		parts = append(parts, fmt.Sprintf("GOAWAY %v ×%d", code, n))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("closed %d/%d", o.Ended, o.Conns))
	}
	return strings.Join(parts, ", ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
