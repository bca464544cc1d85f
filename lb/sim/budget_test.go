package sim

import (
	"testing"
	"time"
)

// TestBudgetWindow: with 100 calls a second for 30 s and retries taken
// while the budget allows, every 10 s window holds at most 0.2 of its
// calls plus 10 a second of retries, the first second may spend the whole
// floor, and the budget is spent in full: 30 a second on average.
func TestBudgetWindow(t *testing.T) {
	b := newBudget(&DefaultBudget)
	var perSecond []int
	for sec := range 30 {
		at := time.Duration(sec)*time.Second + time.Second/2
		for range 100 {
			b.deposit(at)
		}
		n := 0
		for b.withdraw(at) {
			n++
		}
		perSecond = append(perSecond, n)
	}
	if perSecond[0] != 120 {
		t.Errorf("first second: %d retries (want 0.2 × 100 + 10 × 10 = 120)", perSecond[0])
	}
	total := 0
	for _, n := range perSecond {
		total += n
	}
	if total != 900 {
		t.Errorf("30 s: %d retries (want 30 a second, 900)", total)
	}
	for end := budgetWindow; end <= len(perSecond); end++ {
		sum := 0
		for _, n := range perSecond[end-budgetWindow : end] {
			sum += n
		}
		if calls := 100 * budgetWindow; float64(sum) > DefaultBudget.Ratio*float64(calls)+DefaultBudget.PerSecond*budgetWindow {
			t.Errorf("seconds %d to %d: %d retries for %d calls (want ≤ 300)", end-budgetWindow, end, sum, calls)
		}
	}
}
