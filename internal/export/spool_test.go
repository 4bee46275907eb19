package export

import (
	"bytes"
	"os"
	"testing"

	"github.com/modferry/modferry/internal/bundle"
)

// A spooled member is in a file named in sources, with the manifest
// entry of its content, and the spool's files go with remove.
func TestSpool(t *testing.T) {
	sources := map[string]string{}
	sp, err := newSpool(t.TempDir(), sources)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("tile "), 1000)
	bf, err := sp.add("sumdb/sum.test/tile/8/0/000", data)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := bundle.HashReader("sumdb/sum.test/tile/8/0/000", bytes.NewReader(data))
	if bf != want {
		t.Errorf("entry %+v, want %+v", bf, want)
	}
	if _, err := sp.add("sbom.cdx.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(sources["sumdb/sum.test/tile/8/0/000"])
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("spooled file: %v, equal %v", err, bytes.Equal(got, data))
	}
	if sources["sbom.cdx.json"] == sources["sumdb/sum.test/tile/8/0/000"] {
		t.Error("two members share one file")
	}
	sp.remove()
	if _, err := os.Stat(sp.dir); !os.IsNotExist(err) {
		t.Errorf("spool directory left after remove: %v", err)
	}
}
