package main

import (
	"os"
	"runtime/debug"
)

// The garbage collector's settings for the verbs that hold large
// buffers: each applies only when the user's environment leaves the
// setting alone ($GOMEMLIMIT, $GOGC), which then stands.

// exportMemoryLimit is the soft limit on the Go runtime's memory during an
// export. What export keeps live is about 85 MiB whatever the size of the
// graph (the bundle writer's 64 MiB zstd window, licensecheck's 10 MiB
// matcher, the manifest); with the default GOGC=100 the collector lets
// garbage grow the heap to twice that, so the peak RSS came to 150-220 MB
// and varied with when a cycle happened to start. The window holds no
// pointers, so the extra collections the limit causes cost little. A
// larger live heap only makes the collector work harder (its CPU share is
// capped), never fails.
const exportMemoryLimit = 144 << 20

func limitExportMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(exportMemoryLimit)
	}
}

// importGCPercent is the collector's GOGC during an import of bundles.
// What import keeps live is mostly buffers without pointers (the reader's
// 32 MiB zstd window, up to 32 MiB of members in flight to the check
// workers) plus the manifest, so collecting at half the default growth
// costs no measurable CPU and lowers the peak RSS: 109-113 MB to 97-106
// MB for the bench bundle (164 module versions), 151-166 MB to 132-141 MB
// for one of 10,000 module versions with a 7 MB manifest, at the same CPU
// time in both (bench/results/import.md). Unlike a memory limit it has no
// threshold where a larger manifest would make the collector run without
// pause. GOGC=25 saved more (87-91 MB, 116-130 MB) but cost 5 % more CPU
// on the large bundle.
const importGCPercent = 50

func tuneImportGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(importGCPercent)
	}
}
