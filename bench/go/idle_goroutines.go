// idle_goroutines.go - Go peer of idle_tasks.c and of the gdb core
// benchmark: N goroutines, each parked DEPTH user frames deep in a receive
// from one shared channel.
//
//	idle_goroutines -mode mem  [-n N] [-depth 5]  print resident memory per
//	                                              idle goroutine
//	idle_goroutines -mode hold [-n N] [-depth 3]  park them, print
//	                                              "READY <pid>", stay put
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

var release = make(chan struct{})

//go:noinline
func park(depth int, ready *sync.WaitGroup) {
	if depth > 1 {
		park(depth-1, ready)
		return
	}
	ready.Done()
	<-release
}

// rss returns the resident set size in bytes from /proc/self/statm.
func rss() uint64 {
	var size, resident uint64
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return 0
	}
	defer f.Close()
	fmt.Fscan(f, &size, &resident)
	return resident * uint64(os.Getpagesize())
}

func main() {
	mode := flag.String("mode", "mem", "mem or hold")
	n := flag.Int("n", 100000, "goroutines")
	depth := flag.Int("depth", 5, "user frames per goroutine (park calls itself)")
	flag.Parse()

	runtime.GC()
	debug.FreeOSMemory()
	before := rss()
	var ready sync.WaitGroup
	ready.Add(*n)
	for i := 0; i < *n; i++ {
		go park(*depth, &ready)
	}
	ready.Wait()
	time.Sleep(10 * time.Millisecond) // let the last ones reach the receive
	runtime.GC()
	switch *mode {
	case "mem":
		after := rss()
		fmt.Printf("BENCH name=go.idle_goroutine_bytes value=%.1f unit=bytes size=\"%d idle goroutines, %d frames deep, channel receive\"\n",
			float64(after-before)/float64(*n), *n, *depth)
		close(release)
	case "hold":
		fmt.Printf("READY %d\n", os.Getpid())
		os.Stdout.Sync()
		// A sleeping main goroutine keeps the deadlock detector quiet.
		time.Sleep(24 * time.Hour)
	default:
		fmt.Fprintln(os.Stderr, "usage: idle_goroutines -mode mem|hold")
		os.Exit(2)
	}
}
