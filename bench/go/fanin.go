// fanin.go - Go peer of mt_bench's fanin: 8 producer goroutines send
// 125,000 numbers each into one channel of capacity 256; one receiver takes
// all 1,000,000 and checks every producer's sequence.
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

const producers = 8

func once(n int) time.Duration {
	ch := make(chan uint64, 256)
	done := make(chan struct{})
	per := n / producers
	start := time.Now()
	remaining := producers
	finished := make(chan struct{}, producers)
	for p := 0; p < producers; p++ {
		go func(p uint64) {
			for i := 0; i < per; i++ {
				ch <- p<<32 | uint64(i)
			}
			finished <- struct{}{}
		}(uint64(p))
	}
	go func() {
		for remaining > 0 {
			<-finished
			remaining--
		}
		close(ch)
		close(done)
	}()
	var next [producers]uint64
	received := 0
	for m := range ch {
		p := m >> 32
		if p >= producers || next[p] != m&0xffffffff {
			fmt.Fprintln(os.Stderr, "fanin: message out of order")
			os.Exit(1)
		}
		next[p]++
		received++
	}
	<-done
	d := time.Since(start)
	if received != per*producers {
		fmt.Fprintln(os.Stderr, "fanin: messages lost")
		os.Exit(1)
	}
	return d
}

func main() {
	runs := flag.Int("runs", 5, "runs (median printed)")
	n := flag.Int("n", 1000000, "messages per run")
	flag.Parse()
	ms := make([]float64, *runs)
	for r := range ms {
		ms[r] = float64(once(*n).Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	fmt.Printf("BENCH name=go.fanin_ms.1m value=%.2f unit=ms runs=%d gomaxprocs=%d size=\"%d producers x %d messages into 1 channel of capacity 256\"\n",
		ms[len(ms)/2], *runs, runtime.GOMAXPROCS(0), producers, *n/producers)
}
