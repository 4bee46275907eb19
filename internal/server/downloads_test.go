package server

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/downloads"
)

// TestDownloadsRecorded checks that the .info, .mod and .zip the server
// answers are recorded, and that lists, misses and other paths are not.
func TestDownloadsRecorded(t *testing.T) {
	f := newFixture(t, Config{})
	f.publish(t, "corp.example/b", "v1.1.0")
	rec := downloads.New(f.st, downloads.Options{})
	f.srv.downloads = rec
	for _, p := range []string{
		"/corp.example/a/@v/v1.0.0.zip",
		"/corp.example/a/@v/list",
		"/corp.example/b/@latest",
		"/corp.example/b/@v/v9.9.9.mod", // 404
		"/healthz",
	} {
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := downloads.Read(context.Background(), f.st)
	if err != nil {
		t.Fatal(err)
	}
	a := module.Version{Path: "corp.example/a", Version: "v1.0.0"}
	if len(got) != 1 || time.Since(got[a]) > time.Minute {
		t.Fatalf("recorded %v, want only %v, just now", got, a)
	}
}

// BenchmarkGOPROXYRequest measures a whole GOPROXY request for a cached
// .info through the server, with and without download recording: the
// recording must add no allocation once the path is known (and at most
// one, amortised, when it is new).
func BenchmarkGOPROXYRequest(b *testing.B) {
	for _, record := range []bool{false, true} {
		name := "plain"
		if record {
			name = "recording"
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, Config{})
			if record {
				f.srv.downloads = downloads.New(f.st, downloads.Options{})
			}
			hr := httptest.NewRequest("GET", "/corp.example/a/@v/v1.0.0.info", nil)
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, hr)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w.Body.Reset()
				f.srv.ServeHTTP(w, hr)
			}
		})
	}
}
