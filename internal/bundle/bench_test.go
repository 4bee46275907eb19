package bundle_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/bundle/bundletest"
)

// benchSource returns a synthetic bundle source of 36 modules, about 20 MB
// of zips: Go-like text files plus an incompressible testdata blob each.
func benchSource(b *testing.B) (*bundletest.Source, int64) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("func return if else for range package import var const type struct interface map chan go defer err nil string int byte error ctx context fmt Errorf Println := = { } ( ) [ ] , . x y z buf data name path version module")
	text := func(n int) string {
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(8) == 0 {
				sb.WriteString("\n\t")
			} else {
				sb.WriteByte(' ')
			}
		}
		return sb.String()
	}
	s := bundletest.NewSource(&bundle.Manifest{FormatVersion: 1, Created: testCreated, ToolVersion: "bench"})
	for i := range 36 {
		files := map[string][]byte{}
		for j := range 20 {
			files[fmt.Sprintf("pkg%d/file%d.go", j%4, j)] = []byte(text(40 << 10))
		}
		blob := make([]byte, 300<<10)
		for k := range blob {
			blob[k] = byte(rng.Uint32())
		}
		files["testdata/blob.bin"] = blob
		s.AddModule(b, bundletest.Module{Path: fmt.Sprintf("example.com/bench/m%02d", i), Version: "v1.0.0", Files: files})
	}
	var total int64
	for _, f := range s.Manifest.Files {
		total += f.Size
	}
	return s, total
}

func BenchmarkWrite(b *testing.B) {
	s, total := benchSource(b)
	for _, lv := range []bundle.Level{bundle.LevelFast, bundle.LevelDefault, bundle.LevelBest} {
		b.Run(map[bundle.Level]string{bundle.LevelFast: "fast", bundle.LevelDefault: "default", bundle.LevelBest: "best"}[lv], func(b *testing.B) {
			b.SetBytes(total)
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				if err := bundle.WriteLevel(context.Background(), &out, s.Manifest, bundle.Signatures{}, s.Open, lv); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.Len())/float64(total)*100, "%size")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	s, total := benchSource(b)
	var out bytes.Buffer
	if err := bundle.Write(context.Background(), &out, s.Manifest, bundle.Signatures{}, s.Open); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	for b.Loop() {
		st, err := bundle.NewDirStage(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.Read(context.Background(), bytes.NewReader(out.Bytes()), bundle.ReadOptions{AllowUnsigned: true, Stage: st}); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}
