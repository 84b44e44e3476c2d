package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// startProfile writes a CPU profile of the whole command to the file that
// $CLIPFS_CPUPROFILE names ("%p" becomes the process id, for commands run
// several times, as the benchmarks do), for `go tool pprof`. The returned
// function stops it; without the variable it does nothing.
func startProfile(stderr io.Writer) func() {
	name := os.Getenv("CLIPFS_CPUPROFILE")
	if name == "" {
		return func() {}
	}
	name = strings.ReplaceAll(name, "%p", strconv.Itoa(os.Getpid()))
	f, err := os.Create(name)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "clipfs: CLIPFS_CPUPROFILE: %v; going on without a profile\n", err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
