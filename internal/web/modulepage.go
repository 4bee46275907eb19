package web

import (
	"html/template"
	"net/url"
	"strconv"
	"strings"

	"github.com/modferry/modferry/internal/catalog"
)

// The long lists of the module page (a row per version, an item per
// dependent with its requiring versions) and of search results are
// written here rather than in module.html and home.html: html/template calls its escaping functions through
// reflection, with a slice of arguments per call, for every field of every
// row, and a page of a module that 100 modules of ten versions require
// made about 10,000 such calls (BenchmarkModulePage; the CPU profile of
// bench/scale.sh's web module pages was mostly that). Every text from the
// store goes through esc, every URL through modURL or bundleURL and then
// esc: the same escaping html/template gives these contexts (HTML text
// and quoted attributes), with the markup module.html had.

// esc escapes s for HTML text and quoted attribute values.
func esc(b *strings.Builder, s string) { b.WriteString(template.HTMLEscapeString(s)) }

// bundleURL is the page of an imported bundle.
func bundleURL(digest string) string { return "/bundles/" + url.PathEscape(digest) }

// versionRows renders the rows of the versions table.
func versionRows(m *catalog.Module) template.HTML {
	var b strings.Builder
	b.Grow(len(m.Versions) * 512)
	for i := range m.Versions {
		v := &m.Versions[i]
		if v.Retracted {
			b.WriteString("\n<tr class=\"retracted\">")
		} else {
			b.WriteString("\n<tr class=\"\">")
		}
		b.WriteString("\n  <td class=\"ver\"><a href=\"")
		esc(&b, modURL(m.Path, v.Version))
		b.WriteString(`">`)
		esc(&b, v.Version)
		b.WriteString("</a>\n    ")
		if v.Retracted {
			b.WriteString(`<span class="tag warn" title="`)
			esc(&b, v.RetractRationale)
			b.WriteString(`">retracted</span>`)
		}
		b.WriteString("\n    ")
		if v.GoModOnly {
			b.WriteString(`<span class="tag muted">go.mod only</span>`)
		}
		b.WriteString("</td>\n  <td>")
		esc(&b, formatTime(v.Time))
		b.WriteString("</td>\n  <td>")
		if v.GoModOnly {
			b.WriteString("—")
		} else {
			esc(&b, formatBytes(v.ZipSize))
		}
		b.WriteString("</td>\n  <td>")
		if v.GoVersion != "" {
			esc(&b, v.GoVersion)
		} else {
			b.WriteString("—")
		}
		b.WriteString("</td>\n  <td>")
		for _, l := range v.Licenses {
			b.WriteString(`<span class="tag">`)
			esc(&b, l)
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
			esc(&b, bundleURL(o.Bundle))
			b.WriteString(`" class="digest">`)
			esc(&b, o.Bundle[:min(12, len(o.Bundle))])
			b.WriteString("</a>")
		default:
			b.WriteString("publish")
			if o.Actor != "" {
				b.WriteString(" by ")
				esc(&b, o.Actor)
			}
		}
		b.WriteString("</td>\n</tr>\n")
	}
	return template.HTML(b.String())
}

// dependentItems renders the items of the dependents list.
func dependentItems(m *catalog.Module) template.HTML {
	var b strings.Builder
	for i := range m.Dependents {
		d := &m.Dependents[i]
		b.WriteString(`<li><a href="`)
		esc(&b, modURL(d.Path))
		b.WriteString(`">`)
		esc(&b, d.Path)
		b.WriteString("</a>")
		for _, v := range d.Versions {
			b.WriteString(` <span class="ver">`)
			esc(&b, v.Version)
			b.WriteString("</span>")
		}
		b.WriteString("</li>\n")
	}
	return template.HTML(b.String())
}

// resultRows renders the rows of the search results table.
func resultRows(res *catalog.SearchResult) template.HTML {
	var b strings.Builder
	b.Grow(len(res.Modules) * 256)
	for i := range res.Modules {
		m := &res.Modules[i]
		b.WriteString("\n<tr class=\"result\">\n  <td class=\"path\"><a href=\"")
		esc(&b, modURL(m.Path))
		b.WriteString(`">`)
		esc(&b, m.Path)
		b.WriteString("</a>")
		if m.Deprecated {
			b.WriteString(` <span class="tag warn">deprecated</span>`)
		}
		b.WriteString("</td>\n  <td class=\"ver\">")
		if m.Latest != "" {
			esc(&b, m.Latest)
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
	return template.HTML(b.String())
}
