package cacheimport_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/modferry/modferry/internal/cacheimport"
)

func hashZip(p string) (string, error) { return dirhash.HashZip(p, dirhash.Hash1) }

// copyZipWithExtraFile rewrites a module zip with one more file in it.
func copyZipWithExtraFile(t *testing.T, p, prefix string) {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		w, _ := zw.Create(f.Name)
		w.Write(data)
	}
	w, _ := zw.Create(prefix + "extra.txt")
	w.Write([]byte("not in the original\n"))
	zr.Close()
	zw.Close()
	os.WriteFile(p, buf.Bytes(), 0o644)
}

func skipReasons(s []cacheimport.Skip) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Version.String()+": "+x.Reason)
	}
	return out
}
