package main

import (
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"time"
)

// memProfileEnv names a file to write a heap profile to, for finding what
// holds memory (go tool pprof -sample_index=inuse_space). The profile is
// rewritten whenever the heap reaches a new peak (10% above the last one
// written) and once more when the command ends, so it shows the peak of
// the live heap (as of the last garbage collection).
const memProfileEnv = "MODFERRY_MEMPROFILE"

// startMemProfile starts watching the heap if $MODFERRY_MEMPROFILE is set
// and returns the function that stops watching and writes the final profile.
func startMemProfile() (stop func()) {
	file := os.Getenv(memProfileEnv)
	if file == "" {
		return func() {}
	}
	runtime.MemProfileRate = 64 << 10
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var peak uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak+peak/10 {
				peak = v
				writeHeapProfile(file)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		writeHeapProfile(file + ".end")
	}
}

// cpuProfileEnv names a file to write a CPU profile of the whole command
// to (go tool pprof -top FILE).
const cpuProfileEnv = "MODFERRY_CPUPROFILE"

// startCPUProfile starts a CPU profile if $MODFERRY_CPUPROFILE is set and
// returns the function that stops it.
func startCPUProfile() (stop func()) {
	file := os.Getenv(cpuProfileEnv)
	if file == "" {
		return func() {}
	}
	f, err := os.Create(file)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// traceEnv names a file to write an execution trace of the whole command
// to (go tool trace FILE): where goroutines wait, and the phases of an
// import (trace regions).
const traceEnv = "MODFERRY_TRACE"

// startTrace starts an execution trace if $MODFERRY_TRACE is set and
// returns the function that stops it.
func startTrace() (stop func()) {
	file := os.Getenv(traceEnv)
	if file == "" {
		return func() {}
	}
	f, err := os.Create(file)
	if err != nil {
		return func() {}
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		trace.Stop()
		_ = f.Close()
	}
}

func writeHeapProfile(file string) {
	f, err := os.Create(file)
	if err != nil {
		return
	}
	// The profile describes the heap as of the last completed GC.
	runtime.GC()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
	_ = f.Close()
}
