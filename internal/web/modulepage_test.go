package web

import (
	"html/template"
	"strings"
	"testing"

	"github.com/modferry/modferry/internal/catalog"
)

// TestRequireItemsAsTemplate: the requirements list written in Go is
// what module.html's range wrote, html/template's escaping included.
func TestRequireItemsAsTemplate(t *testing.T) {
	const was = `{{range .Requires}}<li><a href="{{modURL .Path .Version}}">{{.Path}}</a> <span class="ver">{{.Version}}</span>{{if .Indirect}} <span class="muted">indirect</span>{{end}}</li>
{{end}}`
	tmpl := template.Must(template.New("x").Funcs(template.FuncMap{"modURL": modURL}).Parse(was))
	m := &catalog.Module{Requires: []catalog.Requirement{
		{Path: "example.com/a", Version: "v1.0.0"},
		{Path: "github.com/Upper/Case_x~y", Version: "v2.0.0+incompatible", Indirect: true},
		{Path: `example.com/<script>"&'`, Version: "v0.0.0-20260101000000-abcdefabcdef"},
		{Path: "example.com/sp ace/é", Version: "v1.0.0-rc.1+meta"},
	}}
	var want strings.Builder
	if err := tmpl.Execute(&want, m); err != nil {
		t.Fatal(err)
	}
	if got := string(requireItems(m)); got != want.String() {
		t.Errorf("requireItems:\n%s\nthe template wrote:\n%s", got, want.String())
	}
	if got := requireItems(&catalog.Module{}); got != "" {
		t.Errorf("no requirements: %q", got)
	}
}

// TestEscAsTemplate: esc escapes as html/template does in HTML text and
// in a quoted attribute value.
func TestEscAsTemplate(t *testing.T) {
	var all strings.Builder
	for c := range 128 {
		all.WriteByte(byte(c))
	}
	all.WriteString("é\xff+incompatible")
	s := all.String()
	for _, src := range []string{`{{.}}`, `<span title="{{.}}">`} {
		var want strings.Builder
		if err := template.Must(template.New("x").Parse(src)).Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		b := &markup{}
		prefix, suffix, _ := strings.Cut(src, "{{.}}")
		b.WriteString(prefix)
		esc(b, s)
		b.WriteString(suffix)
		if got := string(b.b); got != want.String() {
			t.Errorf("%s:\nesc:      %q\ntemplate: %q", src, got, want.String())
		}
	}
}
