package inventory

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/bundle"
	"github.com/modferry/modferry/internal/modfiles"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

func sample() *Inventory {
	return &Inventory{
		FormatVersion: FormatVersion,
		Created:       time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
		Modules: []bundle.Module{
			{Path: "github.com/BurntSushi/toml", Version: "v1.3.2", ZipHash: "h1:zip=", ModHash: "h1:mod="},
			{Path: "golang.org/x/text", Version: "v0.3.0", ModHash: "h1:mod2="},
		},
		Bundles:    []string{strings.Repeat("ab", 32)},
		SumDBHeads: map[string][]string{"sum.golang.org": {"go.sum database tree\n1\nhash\n"}},
	}
}

func TestParseRoundTrip(t *testing.T) {
	data, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := inv.Lookup(module.Version{Path: "github.com/BurntSushi/toml", Version: "v1.3.2"})
	if !ok || m.ZipHash != "h1:zip=" {
		t.Fatalf("Lookup = %+v, %v", m, ok)
	}
	if _, ok := inv.Lookup(module.Version{Path: "github.com/burntsushi/toml", Version: "v1.3.2"}); ok {
		t.Fatal("Lookup folded the case of a module path")
	}
}

// encodeWhole is what Marshal wrote before WriteTo streamed the modules:
// one encoding/json Encoder on the whole inventory.
func encodeWhole(t *testing.T, inv *Inventory) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(inv); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteToBytes checks that streaming the modules changed no byte of
// an inventory (its digest is what delta bundles record as their base).
func TestWriteToBytes(t *testing.T) {
	for name, change := range map[string]func(*Inventory){
		"sample":     func(*Inventory) {},
		"no modules": func(inv *Inventory) { inv.Modules = []bundle.Module{} },
		"nil lists":  func(inv *Inventory) { inv.Modules, inv.Bundles, inv.SumDBHeads = nil, nil, nil },
		"one module": func(inv *Inventory) { inv.Modules = inv.Modules[:1] },
		"markup": func(inv *Inventory) {
			inv.Modules[1].ModHash = `h1:<&>"\` + "\u2028\n"
			inv.SumDBHeads["a <b> & \"c\"\n \"modules\": []"] = []string{"\n \"modules\": []"}
		},
	} {
		inv := sample()
		change(inv)
		got, err := inv.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if want := encodeWhole(t, inv); !bytes.Equal(got, want) {
			t.Errorf("%s: Marshal wrote\n%s\nencoding/json writes\n%s", name, got, want)
		}
		var buf bytes.Buffer
		if n, err := inv.WriteTo(&buf); err != nil || n != int64(len(got)) || !bytes.Equal(buf.Bytes(), got) {
			t.Errorf("%s: WriteTo = %d, %v; differs from Marshal", name, n, err)
		}
	}
}

// TestParseRefuses checks what an inventory from the other side must not
// be: another format, an invalid module path or version, or a version
// listed twice (export --since would trust one of its two hashes).
func TestParseRefuses(t *testing.T) {
	for name, change := range map[string]func(*Inventory){
		"format":  func(inv *Inventory) { inv.FormatVersion = 2 },
		"path":    func(inv *Inventory) { inv.Modules[0].Path = "../x" },
		"version": func(inv *Inventory) { inv.Modules[0].Version = "latest" },
		"duplicate": func(inv *Inventory) {
			inv.Modules = append(inv.Modules, bundle.Module{Path: "golang.org/x/text", Version: "v0.3.0", ModHash: "h1:other="})
		},
	} {
		inv := sample()
		change(inv)
		data, err := inv.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err == nil {
			t.Errorf("%s: Parse accepted %s", name, data)
		}
	}
	if _, err := Parse([]byte(`{"formatVersion":1,"unknown":true}`)); err == nil {
		t.Error("Parse accepted an unknown field")
	}
	data, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(append(data, `{"formatVersion":1}`...)); err == nil {
		t.Error("Parse accepted data after the inventory")
	}
}

// FuzzParse feeds Parse arbitrary bytes, as an inventory carried from the
// isolated side is: it must never panic, and what it accepts must hold
// only valid module versions, each once, and survive Marshal and Parse.
func FuzzParse(f *testing.F) {
	data, err := sample().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"formatVersion":1,"modules":[{"path":"a.b/c","version":"v1.0.0","modHash":"h1:x"},{"path":"a.b/c","version":"v1.0.0","modHash":"h1:y"}]}`))
	f.Add([]byte(`{"formatVersion":1,"modules":null,"bundles":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "inventory: ") {
				t.Fatalf("error without the inventory prefix: %v", err)
			}
			return
		}
		seen := map[module.Version]bool{}
		for _, m := range inv.Modules {
			v := m.ModuleVersion()
			if err := module.Check(v.Path, v.Version); err != nil {
				t.Fatalf("accepted an invalid module version: %v", err)
			}
			if seen[v] {
				t.Fatalf("accepted %v twice", v)
			}
			seen[v] = true
			if got, ok := inv.Lookup(v); !ok || got != m {
				t.Fatalf("Lookup(%v) = %+v, %v; want %+v", v, got, ok, m)
			}
		}
		out, err := inv.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if want := encodeWhole(t, inv); string(out) != string(want) {
			t.Fatalf("Marshal wrote\n%s\nencoding/json writes\n%s", out, want)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse refused what Marshal wrote: %v\n%s", err, out)
		}
		if len(again.Modules) != len(inv.Modules) {
			t.Fatalf("round trip: %d modules, want %d", len(again.Modules), len(inv.Modules))
		}
	})
}

// TestBuildHashesZipWithoutZiphash: a version whose zip has no .ziphash
// beside it gets the zip's h1: hash from the zip itself, on a disk and on
// a store kept elsewhere (an empty ZipHash would say "go.mod only").
func TestBuildHashesZipWithoutZiphash(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("a.test/m@v1.0.0/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "module a.test/m\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	want, err := modfiles.HashZipBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	disk, err := store.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]store.Store{"disk": disk, "mem": store.NewMem()} {
		t.Run(name, func(t *testing.T) {
			v := module.Version{Path: "a.test/m", Version: "v1.0.0"}
			if err := (&modules.Repo{Store: st}).Add(ctx, v, modules.Files{Mod: strings.NewReader("module a.test/m\n"), Zip: bytes.NewReader(buf.Bytes())}); err != nil {
				t.Fatal(err)
			}
			zh, _ := modfiles.Name(v, modfiles.ZipHash)
			if ok, _ := store.Exists(ctx, st, zh); ok {
				t.Fatal("the test needs a version without a .ziphash")
			}
			inv, err := Build(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := inv.Lookup(v); !ok || m.ZipHash != want {
				t.Fatalf("Lookup = %+v, %v; want ZipHash %s", m, ok, want)
			}
		})
	}
}

// goneAfterListing is a store where one version's files vanish after it
// was listed, as when a delete runs beside the inventory.
type goneAfterListing struct {
	store.Store
	prefix string
}

func (g goneAfterListing) Open(ctx context.Context, name string) (store.File, error) {
	if strings.HasPrefix(name, g.prefix) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return g.Store.Open(ctx, name)
}

// TestBuildSkipsVersionDeletedMeanwhile: a version deleted between the
// listing and its reads is left out, not an error that fails the export.
func TestBuildSkipsVersionDeletedMeanwhile(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	repo := &modules.Repo{Store: st}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		mv := module.Version{Path: "a.test/m", Version: v}
		if err := repo.Add(ctx, mv, modules.Files{Mod: strings.NewReader("module a.test/m\n"), Zip: strings.NewReader("zip"), ZipHash: "h1:x"}); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := Build(ctx, goneAfterListing{st, "download/a.test/m/@v/v1.0.0."})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Modules) != 1 || inv.Modules[0].Version != "v1.1.0" {
		t.Fatalf("modules %+v, want v1.1.0 only", inv.Modules)
	}
}

// TestBuildZipWithoutInfo: a version whose zip is stored but whose .info
// is not (a publish in progress, an interrupted import) is not held
// whole: the inventory lists it as go.mod-only, so that export --since
// carries it whole again; and it names the versions without a
// checksum-database lookup (this store has none).
func TestBuildZipWithoutInfo(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	repo := &modules.Repo{Store: st}
	v := module.Version{Path: "corp.test/m", Version: "v1.0.0"}
	if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module corp.test/m\n"), Zip: strings.NewReader("zip"), ZipHash: "h1:x"}); err != nil {
		t.Fatal(err)
	}
	info, _ := modfiles.Name(v, modfiles.Info)
	if err := st.Delete(ctx, info); err != nil {
		t.Fatal(err)
	}
	inv, err := Build(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Modules) != 1 || inv.Modules[0].ZipHash != "" {
		t.Errorf("modules %+v; want %s as go.mod-only", inv.Modules, v)
	}
	if !inv.IsUnproven(v) || len(inv.Unproven) != 1 {
		t.Errorf("unproven %v; want %s", inv.Unproven, v)
	}
}

// TestCheckBase: the record of an inventory tells an import of a delta
// made against it which listed versions the store lost since; without
// removals since, it looks no further; an unknown inventory is reported;
// only the newest records are kept.
func TestCheckBase(t *testing.T) {
	ctx := context.Background()
	st := store.NewMem()
	repo := &modules.Repo{Store: st}
	a := module.Version{Path: "corp.test/a", Version: "v1.0.0"}
	b := module.Version{Path: "corp.test/b", Version: "v1.0.0"}
	c := module.Version{Path: "corp.test/c", Version: "v1.0.0"}
	for _, v := range []module.Version{a, b, c} {
		if err := repo.Add(ctx, v, modules.Files{Mod: strings.NewReader("module " + v.Path + "\n"), Zip: strings.NewReader("zip"), ZipHash: "h1:x"}); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := Build(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveBase(ctx, st, "d1", inv); err != nil {
		t.Fatal(err)
	}
	if missing, known, err := CheckBase(ctx, st, "d1", nil); err != nil || !known || len(missing) != 0 {
		t.Fatalf("nothing removed: missing %v, known %v, %v", missing, known, err)
	}
	for _, v := range []module.Version{a, b} {
		if err := repo.Delete(ctx, v, modules.GoneRecord{Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	// b is what the delta carries itself.
	missing, known, err := CheckBase(ctx, st, "d1", map[module.Version]bool{b: true})
	if err != nil || !known || len(missing) != 1 || missing[0] != a {
		t.Fatalf("after deleting a and b: missing %v, known %v, %v; want [%v]", missing, known, err, a)
	}
	if _, known, err := CheckBase(ctx, st, "other", nil); err != nil || known {
		t.Fatalf("an inventory the store did not write: known %v, %v", known, err)
	}
	for i := range keepBases + 2 {
		inv.Created = inv.Created.Add(time.Duration(i+1) * time.Second)
		if err := SaveBase(ctx, st, fmt.Sprintf("n%d", i), inv); err != nil {
			t.Fatal(err)
		}
	}
	if names, _ := st.List(ctx, BasesDir); len(names) != keepBases {
		t.Errorf("%d inventory records kept, want %d", len(names), keepBases)
	}
	if _, known, _ := CheckBase(ctx, st, "d1", nil); known {
		t.Error("the oldest record was kept")
	}
}
