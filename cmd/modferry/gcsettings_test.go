package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneImportGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	tuneImportGC()
	if got := debug.SetGCPercent(100); got != importGCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, importGCPercent)
	}
	t.Setenv("GOGC", "200")
	tuneImportGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=200 in the environment: GC percent changed to %d, want it left at 100", got)
	}
}

func TestLimitExportMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOMEMLIMIT", "")
	limitExportMemory()
	if got := debug.SetMemoryLimit(-1); got != exportMemoryLimit {
		t.Errorf("GOMEMLIMIT unset: limit %d, want %d", got, exportMemoryLimit)
	}
	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOMEMLIMIT", "1GiB")
	limitExportMemory()
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("GOMEMLIMIT set: limit changed to %d, want it left", got)
	}
}
