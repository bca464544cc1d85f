package main

import (
	"fmt"
	"slices"
)

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

// printHeader and printRow lay out one line per test: the median rate of
// each target, each one's ratio to direct, and each one's CPU cost.
func printHeader(targets []target) {
	fmt.Printf("%-14s", "test")
	for _, t := range targets {
		fmt.Printf(" %11s", t.name)
	}
	for _, t := range targets[1:] {
		fmt.Printf(" %13s", t.name+"/d")
	}
	fmt.Printf("   %-12s", "cost")
	for _, t := range targets {
		fmt.Printf(" %11s", t.name)
	}
	fmt.Println()
}

func printRow(name, unit string, targets []target, res map[string][]sample) {
	meds := make([]sample, len(targets))
	for i, t := range targets {
		meds[i] = median(res[t.name])
	}
	fmt.Printf("%-14s", name)
	for _, m := range meds {
		fmt.Printf(" %11.0f", m.rate)
	}
	for _, m := range meds[1:] {
		fmt.Printf(" %13.2f", m.rate/meds[0].rate)
	}
	fmt.Printf("   %-12s", unit)
	for _, m := range meds {
		fmt.Printf(" %11.1f", m.cpuPerUnit)
	}
	fmt.Println()
}
