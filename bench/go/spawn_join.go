// spawn_join.go - Go peer of ct_bench's spawn_join: spawn 1,000,000
// goroutines, each storing one value, then wait for all of them.
// Prints a BENCH line (docs/performance.md) with the median of -runs runs.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

func once(n int, out []uint64) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			out[i] = uint64(i)
			wg.Done()
		}(i)
	}
	wg.Wait()
	d := time.Since(start)
	var sum uint64
	for _, v := range out {
		sum += v
	}
	if sum != uint64(n)*uint64(n-1)/2 {
		fmt.Fprintln(os.Stderr, "spawn_join: wrong sum")
		os.Exit(1)
	}
	return d
}

func main() {
	runs := flag.Int("runs", 5, "runs (median printed)")
	n := flag.Int("n", 1000000, "goroutines per run")
	flag.Parse()
	out := make([]uint64, *n)
	ms := make([]float64, *runs)
	for r := range ms {
		runtime.GC()
		ms[r] = float64(once(*n, out).Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	fmt.Printf("BENCH name=go.spawn_join_ms.1m value=%.2f unit=ms runs=%d gomaxprocs=%d size=\"%d goroutines spawned then waited for\"\n",
		ms[len(ms)/2], *runs, runtime.GOMAXPROCS(0), *n)
}
