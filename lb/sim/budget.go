package sim

import "time"

// budgetWindow is how far back a budget counts, in seconds, as the
// relay's.
const budgetWindow = 10

// budget is a Budget's account on the simulated clock: calls and retries
// (hedges included) per second of the window. A nil budget allows all.
type budget struct {
	Budget
	slots [budgetWindow]budgetSlot
}

type budgetSlot struct {
	sec            int64
	calls, retries int
}

func newBudget(b *Budget) *budget {
	if b == nil {
		return nil
	}
	out := &budget{Budget: *b}
	for i := range out.slots {
		out.slots[i].sec = -budgetWindow
	}
	return out
}

// slot is the account of the second t falls in, emptied when last used
// for an older second.
func (b *budget) slot(t time.Duration) *budgetSlot {
	sec := int64(t / time.Second)
	s := &b.slots[sec%budgetWindow]
	if s.sec != sec {
		*s = budgetSlot{sec: sec}
	}
	return s
}

// deposit counts a call arriving at t.
func (b *budget) deposit(t time.Duration) {
	if b != nil {
		b.slot(t).calls++
	}
}

// withdraw takes a retry or hedge at t from the budget; false when it is
// spent.
func (b *budget) withdraw(t time.Duration) bool {
	if b == nil {
		return true
	}
	now := int64(t / time.Second)
	calls, retries := 0, 0
	for _, s := range b.slots {
		if now-s.sec < budgetWindow {
			calls += s.calls
			retries += s.retries
		}
	}
	if float64(retries) >= b.Ratio*float64(calls)+b.PerSecond*budgetWindow {
		return false
	}
	b.slot(t).retries++
	return true
}
