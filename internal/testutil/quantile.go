package testutil

import "time"

// Quantile is the q-quantile (0..1) of sorted durations, the nearest
// rank below; 0 for none.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}
