package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modferry/modferry/internal/api"
)

// indentCases are values whose JSON appendIndentJSON must indent as
// json.Indent does.
func indentCases() []any {
	return []any{
		nil, true, 12.5, "", `a "quoted" \ back\slash <b>&amp;</b> é 世界 \u2028`,
		[]any{}, map[string]any{}, []any{[]any{}, map[string]any{}, []any{1, []any{2}}},
		map[string]any{"a": []any{}, "b": map[string]any{"c": nil, "d": `"}]{[,:`}, "e\"f": 1},
		api.Module{Path: "example.com/a", Versions: []api.ModuleVersion{{Version: "v1.0.0", Time: time.Unix(1e9, 0).UTC(), Licenses: []string{}}, {Version: "v1.1.0", Licenses: []string{"MIT", "Apache-2.0"}}},
			Requires: []api.Requirement{}, Dependents: []api.Dependent{{Path: "x.org/y", Versions: []api.DependentVersion{{Version: "v0.1.0", Requires: "v1.0.0"}}}}},
		api.ErrorBody{Error: "no such module: \"x\"\n"},
		deep(40),
	}
}

func TestAppendIndentJSON(t *testing.T) {
	for _, v := range indentCases() {
		src, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := appendIndentJSON(nil, src); !bytes.Equal(got, want) {
			t.Errorf("%s:\ngot  %s\nwant %s", src, got, want)
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, 201, v)
		if rec.Code != 201 || rec.Body.String() != string(want)+"\n" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("writeJSON(%s): %d %q", src, rec.Code, rec.Body)
		}
	}
}

// FuzzAppendIndentJSON checks appendIndentJSON against json.Indent on
// any valid compact JSON.
func FuzzAppendIndentJSON(f *testing.F) {
	for _, v := range indentCases() {
		src, _ := json.Marshal(v)
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, src) != nil {
			return
		}
		src = compact.Bytes()
		var want bytes.Buffer
		if err := json.Indent(&want, src, "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := appendIndentJSON(nil, src); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%q:\ngot  %q\nwant %q", src, got, want.Bytes())
		}
	})
}

func BenchmarkWriteJSON(b *testing.B) {
	m := api.Module{Path: "example.com/a", Requires: []api.Requirement{}}
	for i := range 10 {
		m.Versions = append(m.Versions, api.ModuleVersion{Version: "v1.0." + string(rune('0'+i)), Time: time.Unix(1e9, 0).UTC(), ZipSize: 1234, ZipHash: "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", Licenses: []string{"MIT"}})
	}
	for range 100 {
		d := api.Dependent{Path: "github.com/synth/dependent-module"}
		for range 10 {
			d.Versions = append(d.Versions, api.DependentVersion{Version: "v1.0.0", Requires: "v1.0.0"})
		}
		m.Dependents = append(m.Dependents, d)
	}
	b.Run("MarshalIndent", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.MarshalIndent(&m, "", "  "); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("writeJSON", func(b *testing.B) {
		for b.Loop() {
			writeJSON(httptest.NewRecorder(), 200, &m)
		}
	})
}

// deep is a value nested n levels deep.
func deep(n int) any {
	var v any = "leaf"
	for i := range n {
		if i%2 == 0 {
			v = []any{v, i}
		} else {
			v = map[string]any{"k": v}
		}
	}
	return v
}
