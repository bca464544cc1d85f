package lb

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPick measures one pick at growing set sizes; it must stay at
// 0 allocs/op and roughly flat (P2C looks at two endpoints whatever n is).
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			addrs := make([]string, n)
			for i := range addrs {
				addrs[i] = fmt.Sprintf("10.0.%d.%d:80", i/256, i%256)
			}
			p := NewPool("bench", Options{SlowStart: time.Nanosecond})
			p.Update(addrs)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok := p.Pick(); !ok {
						b.Fatal("no pick")
					}
				}
			})
		})
	}
}
