package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int("n", 2000, "number of reads")
	bs := flag.Int("bs", 64<<10, "bytes per read")
	threads := flag.Int("threads", 1, "concurrent readers")
	seed := flag.Uint64("seed", 1, "seed of the offsets")
	align := flag.Int64("align", 4096, "offsets are multiples of this (1: any byte)")
	flag.Parse()
	if flag.NArg() != 1 || *n <= 0 || *bs <= 0 || *threads <= 0 || *align <= 0 {
		fmt.Fprintln(os.Stderr, "usage: randread [-n N] [-bs BYTES] [-threads T] [-seed S] [-align A] FILE")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fail(err)
	}
	if st.Size() < int64(*bs) {
		fail(fmt.Errorf("%s: %d bytes, less than one read of %d", f.Name(), st.Size(), *bs))
	}
	rng := rand.New(rand.NewPCG(*seed, 0x636c6970))
	offs := make([]int64, *n)
	for i := range offs {
		offs[i] = rng.Int64N(st.Size()-int64(*bs)+1) / *align * *align
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *threads)
	start := time.Now()
	for range *threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			buf := make([]byte, *bs)
			for {
				i := next.Add(1) - 1
				if i >= int64(len(offs)) {
					return
				}
				k, err := f.ReadAt(buf, offs[i])
				if k != len(buf) {
					errs <- fmt.Errorf("read at %d: %d of %d bytes: %v", offs[i], k, len(buf), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		fail(err)
	}
	fmt.Printf("%.1f\n", float64(*n)/el.Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "randread:", err)
	os.Exit(1)
}
