package main

import (
	"bufio"
	"cmp"
	"fmt"
	"html"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// A figure is one measured quantity of the report.
type figure struct {
	key    string // name in results.tsv
	label  string
	unit   string
	growth string  // "flat" (≤ 1.2× from the smallest to the largest store), "linear" (at most), or ""
	limit  float64 // at the largest store, the figure must stay below this; 0 for none
	higher bool    // higher is better (requests/s): "flat" then means ≥ 1/1.2×
	plot   string  // "requests" or "costs": which SVG
}

var figures = []figure{
	{"serve.first200_ms", "start-up to the first GOPROXY 200 (ready to serve)", "ms", "linear", 1000, false, "costs"},
	{"serve.ready_ms", "start-up to a complete catalog index", "ms", "linear", 0, false, "costs"},
	{"serve.ready_cpu_s", "server CPU until the index is complete", "CPU-s", "linear", 0, false, "costs"},
	{"serve.settled_ms", "start-up to the end of background work (page details)", "ms", "linear", 0, false, "costs"},
	{"serve.settled_cpu_s", "server CPU until then", "CPU-s", "linear", 0, false, "costs"},
	{"serve.idle_rss_mb", "server RSS, idle (index built)", "MB", "", 150, false, "costs"},
	{"serve.load_rss_mb", "server RSS, peak under load", "MB", "", 150, false, "costs"},
	{"list.p99_ms", "@v/list of a 100-version module, p99 (64 conns)", "ms", "flat", 0, false, "requests"},
	{"list.rps", "@v/list, requests/s (64 conns)", "req/s", "flat", 0, true, "requests"},
	{"list.cpu_us", "@v/list, server CPU per request", "µs", "flat", 0, false, "requests"},
	{"latest.p99_ms", "@latest of a 100-version module, p99 (64 conns)", "ms", "flat", 0, false, "requests"},
	{"latest.rps", "@latest, requests/s (64 conns)", "req/s", "flat", 0, true, "requests"},
	{"latest.cpu_us", "@latest, server CPU per request", "µs", "flat", 0, false, "requests"},
	{"info.p99_ms", ".info of random versions, p99 (64 conns)", "ms", "flat", 0, false, "requests"},
	{"info.rps", ".info, requests/s (64 conns)", "req/s", "flat", 0, true, "requests"},
	{"info.cpu_us", ".info, server CPU per request", "µs", "flat", 0, false, "requests"},
	{"search.p99_ms", "API search, p99 (16 clients)", "ms", "flat", 20, false, "requests"},
	{"search.rps", "API search, requests/s (16 clients)", "req/s", "flat", 0, true, "requests"},
	{"search.cpu_us", "API search, server CPU per request", "µs", "flat", 0, false, "requests"},
	{"module.p99_ms", "API module page, p99 (16 clients)", "ms", "flat", 20, false, "requests"},
	{"module.rps", "API module page, requests/s (16 clients)", "req/s", "flat", 0, true, "requests"},
	{"module.cpu_us", "API module page, server CPU per request", "µs", "flat", 0, false, "requests"},
	{"web-home.p99_ms", "web catalog / with a search, p99 (16 clients)", "ms", "flat", 20, false, "requests"},
	{"web-home.cpu_us", "web /, server CPU per request", "µs", "flat", 0, false, "requests"},
	{"web-module.p99_ms", "web module page, p99 (16 clients)", "ms", "flat", 20, false, "requests"},
	{"web-module.cpu_us", "web module page, server CPU per request", "µs", "flat", 0, false, "requests"},
	{"inventory.s", "inventory, wall time", "s", "linear", 0, false, "costs"},
	{"inventory.cpu_s", "inventory, CPU time", "CPU-s", "linear", 0, false, "costs"},
	{"inventory.kb", "inventory, size", "KB", "linear", 0, false, "costs"},
	{"inventory.rss_mb", "inventory, peak RSS", "MB", "", 0, false, "costs"},
	{"export-since.rss_mb", "export --since, peak RSS", "MB", "", 0, false, "costs"},
	{"export-since.s", "export --since (10 new versions), wall time", "s", "linear", 0, false, "costs"},
	{"export-since.cpu_s", "export --since, CPU time", "CPU-s", "linear", 0, false, "costs"},
	{"import10.s", "import of a 10-module bundle, wall time", "s", "linear", 0, false, "costs"},
	{"import10.cpu_s", "import of a 10-module bundle, CPU time", "CPU-s", "linear", 0, false, "costs"},
	{"audit-verify.s", "audit verify (10 entries per version: 1M at 100k), wall", "s", "linear", 0, false, "costs"},
	{"audit-verify.cpu_s", "audit verify, CPU time", "CPU-s", "linear", 0, false, "costs"},
	{"audit-verify.rss_mb", "audit verify, peak RSS", "MB", "", 0, false, "costs"},
}

// results maps figure -> size -> the runs, in run order.
type results map[string]map[int][]float64

func readResults(path string) (results, []int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer f.Close()
	res := results{}
	var sizes []int
	rounds := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 4 {
			continue
		}
		n, err1 := strconv.Atoi(fs[0])
		r, err2 := strconv.Atoi(fs[1])
		v, err3 := strconv.ParseFloat(fs[3], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, nil, 0, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		if res[fs[2]] == nil {
			res[fs[2]] = map[int][]float64{}
		}
		res[fs[2]][n] = append(res[fs[2]][n], v)
		if !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
		rounds = max(rounds, r)
	}
	slices.Sort(sizes)
	return res, sizes, rounds, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case v == 0:
		return "0"
	case a >= 10000:
		return addCommas(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

func addCommas(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func sizeName(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// verdict says whether a figure met its targets, from the medians at the
// smallest and the largest store.
func verdict(f figure, lo, hi float64, loN, hiN int) string {
	var out []string
	miss := false
	switch f.growth {
	case "flat":
		ratio := hi / lo
		ok := ratio <= 1.2
		if f.higher {
			ok = ratio >= 1/1.2
		}
		miss = miss || !ok
		out = append(out, fmt.Sprintf("flat (≤ 1.2×): %s", okMiss(ok)))
	case "linear":
		// the growth exponent: ratio = (hiN/loN)^k
		k := math.Log(hi/lo) / math.Log(float64(hiN)/float64(loN))
		ok := k <= 1.05 // some slack for noise
		miss = miss || !ok
		out = append(out, fmt.Sprintf("at most linear: %s (exponent %.2f)", okMiss(ok), k))
	}
	if f.limit > 0 {
		ok := hi < f.limit
		miss = miss || !ok
		out = append(out, fmt.Sprintf("< %s %s at %s: %s", num(f.limit), f.unit, sizeName(hiN), okMiss(ok)))
	}
	_ = miss
	return strings.Join(out, "; ")
}

func okMiss(ok bool) string {
	if ok {
		return "ok"
	}
	return "**missed**"
}

func report(args []string) error {
	if len(args) != 4 {
		usage()
	}
	res, sizes, rounds, err := readResults(args[0])
	if err != nil {
		return err
	}
	if len(sizes) == 0 {
		return fmt.Errorf("%s: no results", args[0])
	}
	env, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	mdPath, svgPrefix := args[2], args[3]
	lo, hi := sizes[0], sizes[len(sizes)-1]
	svgBase := svgPrefix[strings.LastIndexByte(svgPrefix, '/')+1:]

	var b strings.Builder
	b.WriteString("# Cost curves: what grows with the store (issue 14 §5, issue 11 §1 \"Scale\")\n\n")
	b.WriteString("Written by `bench/scale.sh` (see the script for what each figure is). Medians of the rounds; ")
	b.WriteString("the individual runs are in the tables per size below. ")
	b.WriteString("The server is ready to serve at its first GOPROXY 200 (the targets: < 1 s, and < 3 s for issue 11); ")
	b.WriteString("the catalog index completes in the background, and the metadata API answers (partial) meanwhile. ")
	b.WriteString("On a shared machine the latencies (p99) follow the other load more than the server; ")
	b.WriteString("the server's CPU per request is the steadier figure of what a request costs.\n\n")
	b.Write(env)
	b.WriteString("\n")
	notes := strings.TrimSuffix(mdPath, ".md") + "-notes.md"
	if _, err := os.Stat(notes); err == nil {
		fmt.Fprintf(&b, "What changed for these figures, and why the misses miss: [%s](%s).\n\n", notes[strings.LastIndexByte(notes, '/')+1:], notes[strings.LastIndexByte(notes, '/')+1:])
	}
	fmt.Fprintf(&b, "![per-request figures against store size](%s-requests.svg)\n\n", svgBase)
	fmt.Fprintf(&b, "![costs against store size](%s-costs.svg)\n\n", svgBase)
	b.WriteString("## Summary\n\n| figure |")
	for _, n := range sizes {
		fmt.Fprintf(&b, " %s |", sizeName(n))
	}
	fmt.Fprintf(&b, " %s / %s | target |\n|---|", sizeName(hi), sizeName(lo))
	for range sizes {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, f := range figures {
		byN := res[f.key]
		if byN == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s (%s) |", f.label, f.unit)
		for _, n := range sizes {
			fmt.Fprintf(&b, " %s |", num(median(byN[n])))
		}
		l, h := median(byN[lo]), median(byN[hi])
		fmt.Fprintf(&b, " %.2f× | %s |\n", h/l, verdict(f, l, h, lo, hi))
	}
	for _, n := range sizes {
		fmt.Fprintf(&b, "\n## %s module versions\n\n| figure | median | runs |\n|---|---|---|\n", addCommas(strconv.Itoa(n)))
		for _, f := range figures {
			v := res[f.key][n]
			if len(v) == 0 {
				continue
			}
			runs := make([]string, len(v))
			for i, x := range v {
				runs[i] = num(x)
			}
			fmt.Fprintf(&b, "| %s (%s) | %s | %s |\n", f.label, f.unit, num(median(v)), strings.Join(runs, ", "))
		}
	}
	_ = rounds
	if err := os.WriteFile(mdPath, []byte(b.String()), 0o644); err != nil {
		return err
	}
	for _, which := range []string{"requests", "costs"} {
		var fs []figure
		for _, f := range figures {
			if f.plot == which && res[f.key] != nil {
				fs = append(fs, f)
			}
		}
		svg := plot(fs, res, sizes)
		if err := os.WriteFile(svgPrefix+"-"+which+".svg", []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// plot draws one panel per figure: the figure against store size (log
// scale), the median as a line, every run as a dot, the limit (if any)
// dashed red. A figure that may grow linearly is drawn on log-log axes
// with a dotted grey line of linear growth from the smallest store, so
// that anything steeper than it stands out; the others on a linear axis
// from zero, where flat is flat.
func plot(fs []figure, res results, sizes []int) string {
	const (
		cols         = 3
		pw, ph       = 330, 210 // panel
		ml, mr       = 58, 14   // plot area margins in a panel
		mt, mb       = 34, 34
		fontFamily   = "system-ui, sans-serif"
		medianColour = "#1f5fa8"
	)
	rows := (len(fs) + cols - 1) / cols
	W, H := cols*pw, rows*ph
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="11">`+"\n", W, H, W, H, fontFamily)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	lx := func(n int) float64 { return math.Log10(float64(n)) }
	x0, x1 := lx(sizes[0]), lx(sizes[len(sizes)-1])
	if x1 == x0 {
		x1 = x0 + 1
	}
	for i, f := range fs {
		ox, oy := float64(i%cols*pw), float64(i/cols*ph)
		left, right := ox+ml, ox+pw-mr
		top, bottom := oy+mt, oy+ph-mb
		X := func(n int) float64 { return left + (lx(n)-x0)/(x1-x0)*(right-left) }
		byN := res[f.key]
		var all []float64
		for _, n := range sizes {
			all = append(all, byN[n]...)
		}
		logY := f.growth == "linear"
		vmax := slices.Max(all)
		if f.limit > 0 {
			vmax = max(vmax, f.limit)
		}
		var Y func(v float64) float64
		var ticks []float64
		if logY {
			vmin := math.Inf(1)
			for _, v := range all {
				if v > 0 {
					vmin = min(vmin, v)
				}
			}
			if math.IsInf(vmin, 1) {
				vmin = 1
			}
			// room for the linear reference line
			lin := median(byN[sizes[0]]) * float64(sizes[len(sizes)-1]) / float64(sizes[0])
			if lin > 0 && !math.IsNaN(lin) {
				vmax = max(vmax, lin)
			}
			y0, y1 := math.Floor(math.Log10(vmin)), math.Ceil(math.Log10(vmax))
			if y1 == y0 {
				y1++
			}
			Y = func(v float64) float64 {
				v = max(v, math.Pow(10, y0))
				return bottom - (math.Log10(v)-y0)/(y1-y0)*(bottom-top)
			}
			for e := y0; e <= y1; e++ {
				ticks = append(ticks, math.Pow(10, e))
			}
		} else {
			step := niceStep(vmax / 4)
			top1 := math.Ceil(vmax*1.05/step) * step
			if top1 == 0 {
				top1 = 1
			}
			Y = func(v float64) float64 { return bottom - v/top1*(bottom-top) }
			for t := 0.0; t <= top1+step/2; t += step {
				ticks = append(ticks, t)
			}
		}
		// title
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-weight="bold">%s</text>`+"\n", ox+8, oy+14, html.EscapeString(f.label))
		sub := f.unit
		switch {
		case f.growth == "flat":
			sub += " · target: flat (≤ 1.2×)"
		case f.growth == "linear":
			sub += " · log-log; dotted: linear growth"
		}
		if f.limit > 0 {
			sub += fmt.Sprintf(" · limit %s", num(f.limit))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555">%s</text>`+"\n", ox+8, oy+27, html.EscapeString(sub))
		// axes and grid
		for _, t := range ticks {
			y := Y(t)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", left, y, right, y)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#444">%s</text>`+"\n", left-4, y+4, num(t))
		}
		for _, n := range sizes {
			x := X(n)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", x, top, x, bottom)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%s</text>`+"\n", x, bottom+14, sizeName(n))
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`+"\n", left, bottom, right, bottom)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`+"\n", left, top, left, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#666">module versions in the store</text>`+"\n", (left+right)/2, bottom+27)
		if f.limit > 0 {
			y := Y(f.limit)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c0392b" stroke-dasharray="5,3"/>`+"\n", left, y, right, y)
		}
		if logY {
			m0 := median(byN[sizes[0]])
			if m0 > 0 {
				n0, n1 := sizes[0], sizes[len(sizes)-1]
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2,3"/>`+"\n",
					X(n0), Y(m0), X(n1), Y(m0*float64(n1)/float64(n0)))
			}
		}
		var pts []string
		for _, n := range sizes {
			if len(byN[n]) == 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(n), Y(median(byN[n]))))
			for _, v := range byN[n] {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s" fill-opacity="0.45"/>`+"\n", X(n), Y(v), medianColour)
			}
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), medianColour)
		for _, n := range sizes {
			if len(byN[n]) == 0 {
				continue
			}
			v := median(byN[n])
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s" font-size="10">%s</text>`+"\n",
				X(n), Y(v)-6, cmp.Or(anchorFor(n, sizes), "middle"), medianColour, num(v))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func anchorFor(n int, sizes []int) string {
	switch n {
	case sizes[0]:
		return "start"
	case sizes[len(sizes)-1]:
		return "end"
	}
	return ""
}

// niceStep rounds a grid step up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
