package web

import (
	"html/template"
	"net/url"
	"strconv"
	"sync"

	"github.com/modferry/modferry/internal/catalog"
)

// The lists of the module page (a row per version, an item per
// requirement, an item per dependent with its requiring versions) and of
// search results are
// written here rather than in module.html and home.html: html/template calls its escaping functions through
// reflection, with a slice of arguments per call, for every field of every
// row, and a page of a module that 100 modules of ten versions require
// made about 10,000 such calls (BenchmarkModulePage; the CPU profile of
// bench/scale.sh's web module pages was mostly that). Every text from the
// store goes through esc, every URL through modURL or bundleURL and then
// esc: the same escaping html/template gives these contexts (HTML text
// and quoted attributes), with the markup module.html had.

// markup is a piece of a page being written: rows are appended to a
// pooled buffer and copied once, at their size, into the template.HTML the
// template shows (a strings.Builder grown for each page was a good part of
// the garbage a page made).
type markup struct{ b []byte }

var markups = sync.Pool{New: func() any { return &markup{b: make([]byte, 0, 16<<10)} }}

func newMarkup() *markup { return markups.Get().(*markup) }

// done returns what was written and puts the buffer back in the pool.
func (m *markup) done() template.HTML {
	s := template.HTML(m.b)
	if cap(m.b) <= 1<<20 {
		m.b = m.b[:0]
		markups.Put(m)
	}
	return s
}

func (m *markup) WriteString(s string) { m.b = append(m.b, s...) }

// esc escapes s for HTML text and quoted attribute values as
// html/template does there (its htmlEscaper: NUL, the quotes, &, +, < and
// >; template.HTMLEscapeString leaves + alone, so a +incompatible version
// came out otherwise than the template wrote it).
func esc(b *markup, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var r string
		switch s[i] {
		case 0:
			r = "\uFFFD"
		case '"':
			r = "&#34;"
		case '&':
			r = "&amp;"
		case '\'':
			r = "&#39;"
		case '+':
			r = "&#43;"
		case '<':
			r = "&lt;"
		case '>':
			r = "&gt;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(r)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// escModURL writes modURL(path, version...) escaped, without building it.
func escModURL(b *markup, path string, version ...string) {
	b.WriteString("/modules/")
	esc(b, (&url.URL{Path: path}).EscapedPath())
	if len(version) > 0 && version[0] != "" {
		b.WriteString("?v=")
		esc(b, url.QueryEscape(version[0]))
	}
}

// bundleURL is the page of an imported bundle.
func bundleURL(digest string) string { return "/bundles/" + url.PathEscape(digest) }

// versionRows renders the rows of the versions table.
func versionRows(m *catalog.Module) template.HTML {
	b := newMarkup()
	for i := range m.Versions {
		v := &m.Versions[i]
		if v.Retracted {
			b.WriteString("\n<tr class=\"retracted\">")
		} else {
			b.WriteString("\n<tr class=\"\">")
		}
		b.WriteString("\n  <td class=\"ver\"><a href=\"")
		escModURL(b, m.Path, v.Version)
		b.WriteString(`">`)
		esc(b, v.Version)
		b.WriteString("</a>\n    ")
		if v.Retracted {
			b.WriteString(`<span class="tag warn" title="`)
			esc(b, v.RetractRationale)
			b.WriteString(`">retracted</span>`)
		}
		b.WriteString("\n    ")
		if v.GoModOnly {
			b.WriteString(`<span class="tag muted">go.mod only</span>`)
		}
		b.WriteString("</td>\n  <td>")
		esc(b, formatTime(v.Time))
		b.WriteString("</td>\n  <td>")
		if v.GoModOnly {
			b.WriteString("—")
		} else {
			esc(b, formatBytes(v.ZipSize))
		}
		b.WriteString("</td>\n  <td>")
		if v.GoVersion != "" {
			esc(b, v.GoVersion)
		} else {
			b.WriteString("—")
		}
		b.WriteString("</td>\n  <td>")
		for _, l := range v.Licenses {
			b.WriteString(`<span class="tag">`)
			esc(b, l)
			b.WriteString("</span> ")
		}
		if len(v.Licenses) == 0 {
			b.WriteString(`<span class="muted">—</span>`)
		}
		b.WriteString("</td>\n  <td>")
		switch o := v.Origin; {
		case o == nil:
			b.WriteString(`<span class="muted">—</span>`)
		case o.Kind == catalog.OriginBundle:
			b.WriteString(`<a href="`)
			esc(b, bundleURL(o.Bundle))
			b.WriteString(`" class="digest">`)
			esc(b, o.Bundle[:min(12, len(o.Bundle))])
			b.WriteString("</a>")
		default:
			b.WriteString("publish")
			if o.Actor != "" {
				b.WriteString(" by ")
				esc(b, o.Actor)
			}
		}
		b.WriteString("</td>\n</tr>\n")
	}
	return b.done()
}

// dependentItems renders the items of the dependents list.
func dependentItems(m *catalog.Module) template.HTML {
	b := newMarkup()
	for i := range m.Dependents {
		d := &m.Dependents[i]
		b.WriteString(`<li><a href="`)
		escModURL(b, d.Path)
		b.WriteString(`">`)
		esc(b, d.Path)
		b.WriteString("</a>")
		for _, v := range d.Versions {
			b.WriteString(` <span class="ver">`)
			esc(b, v.Version)
			b.WriteString("</span>")
		}
		b.WriteString("</li>\n")
	}
	return b.done()
}

// requireItems renders the items of the requirements list.
func requireItems(m *catalog.Module) template.HTML {
	b := newMarkup()
	for i := range m.Requires {
		r := &m.Requires[i]
		b.WriteString(`<li><a href="`)
		escModURL(b, r.Path, r.Version)
		b.WriteString(`">`)
		esc(b, r.Path)
		b.WriteString(`</a> <span class="ver">`)
		esc(b, r.Version)
		b.WriteString("</span>")
		if r.Indirect {
			b.WriteString(` <span class="muted">indirect</span>`)
		}
		b.WriteString("</li>\n")
	}
	return b.done()
}

// resultRows renders the rows of the search results table.
func resultRows(res *catalog.SearchResult) template.HTML {
	b := newMarkup()
	for i := range res.Modules {
		m := &res.Modules[i]
		b.WriteString("\n<tr class=\"result\">\n  <td class=\"path\"><a href=\"")
		escModURL(b, m.Path)
		b.WriteString(`">`)
		esc(b, m.Path)
		b.WriteString("</a>")
		if m.Deprecated {
			b.WriteString(` <span class="tag warn">deprecated</span>`)
		}
		b.WriteString("</td>\n  <td class=\"ver\">")
		if m.Latest != "" {
			esc(b, m.Latest)
		} else {
			b.WriteString("—")
		}
		b.WriteString("</td>\n  <td class=\"num\">")
		b.WriteString(strconv.Itoa(m.Versions))
		if m.GoModOnly != 0 {
			b.WriteString(` <span class="muted" title="go.mod only">+`)
			b.WriteString(strconv.Itoa(m.GoModOnly))
			b.WriteString("</span>")
		}
		b.WriteString("</td>\n</tr>\n")
	}
	return b.done()
}
