// pingpong.go - Go peer of ct_bench's pingpong: two goroutines and two
// channels of capacity 1, 1,000,000 round trips.
// Prints a BENCH line (docs/performance.md) with the median of -runs runs.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

func once(n int) time.Duration {
	toPong := make(chan uint64, 1)
	toPing := make(chan uint64, 1)
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			toPing <- <-toPong
		}
		close(done)
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		toPong <- uint64(i)
		if <-toPing != uint64(i) {
			fmt.Fprintln(os.Stderr, "pingpong: wrong reply")
			os.Exit(1)
		}
	}
	<-done
	return time.Since(start)
}

func main() {
	runs := flag.Int("runs", 5, "runs (median printed)")
	n := flag.Int("n", 1000000, "round trips per run")
	flag.Parse()
	ms := make([]float64, *runs)
	for r := range ms {
		ms[r] = float64(once(*n).Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	fmt.Printf("BENCH name=go.pingpong_ms.1m value=%.2f unit=ms runs=%d gomaxprocs=%d size=\"%d round trips, 2 channels of capacity 1\"\n",
		ms[len(ms)/2], *runs, runtime.GOMAXPROCS(0), *n)
}
