package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/modferry/modferry/internal/auth"
)

// Browser tests drive the system's Chromium (Debian's chromium package)
// headless through chromedp. Without it they skip, unless
// MODFERRY_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
// MODFERRY_SCREENSHOTS=DIR (relative to the module root) saves the
// screenshots there, as docs/screenshots is made; otherwise they go to the
// test's artifact directory (go test -artifacts keeps them).

// chromiumPath returns the browser to run, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed (apt-get install chromium chromium-driver; scripts/test.sh installs them)"
	if os.Getenv("MODFERRY_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " and MODFERRY_REQUIRE_CHROMIUM=1")
	}
	t.Skip(msg + ": skipping the browser test")
	return ""
}

// screenshotDir is where the screenshots go.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("MODFERRY_SCREENSHOTS")
	if dir == "" {
		return t.ArtifactDir()
	}
	if !filepath.IsAbs(dir) {
		root, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for { // the module root
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatal("no go.mod above the test's directory")
			}
			root = parent
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts one headless browser for the test and returns the
// context of its first tab.
func newBrowser(t *testing.T) context.Context {
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(1280, 900),
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil { // start the browser
		t.Fatalf("starting %s: %v", exe, err)
	}
	return bctx
}

// run runs a chromedp action, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is true.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is not true after 10 s (err %v)", what, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot saves a full-page PNG screenshot.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser walks the catalog in Chromium with authentication on: login
// with a read token, search as you type, a module page, its bundle, the
// SBOM download, what changed, statistics, a phone-sized viewport, and
// logout; it asserts on the DOM at each step and saves screenshots.
func TestBrowser(t *testing.T) {
	s := newSite(t, true, false)
	read := s.token(t, "reader", auth.ScopeRead)
	ctx := newBrowser(t)
	dir := screenshotDir(t)
	base := s.srv.URL

	// Without a token, the catalog sends the browser to the login form.
	run(t, ctx, "open the catalog", chromedp.Navigate(base+"/"))
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, base+"/login?next=") {
		t.Fatalf("without a token the catalog shows %s, want the login form", loc)
	}
	shot(t, ctx, dir, "login")
	run(t, ctx, "type the token", chromedp.SendKeys(chromedp.ID("token"), read))
	if _, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("token"))); err != nil {
		t.Fatalf("log in: %v", err)
	}
	if loc := run(t, ctx, "location", chromedp.Location()); loc != base+"/" {
		t.Fatalf("after login: %s", loc)
	}
	if n := run(t, ctx, "results", chromedp.Evaluate[int](`document.querySelectorAll("#results tr.result").length`)); n != 4 {
		t.Errorf("the home page lists %d modules, want 4", n)
	}
	if run(t, ctx, "cookie", chromedp.Evaluate[string](`document.cookie`)) != "" {
		t.Error("the login cookie is visible to scripts (not HttpOnly)")
	}

	// Search as you type: the results change with no page load.
	run(t, ctx, "mark the page", chromedp.Evaluate[int](`window.sameDocument = 1`))
	run(t, ctx, "type a search", chromedp.SendKeys(chromedp.ID("q"), "lib"))
	waitJS(t, ctx, "live search", `document.querySelectorAll("#results tr.result").length === 1 &&
		document.querySelector("#results tr.result a").textContent === "example.com/lib"`)
	if run(t, ctx, "same page", chromedp.Evaluate[int](`window.sameDocument || 0`)) != 1 {
		t.Error("the search loaded a new page: results did not update in place")
	}
	if loc := run(t, ctx, "location", chromedp.Location()); loc != base+"/?q=lib" {
		t.Errorf("after live search the address is %s, want %s/?q=lib", loc, base)
	}
	shot(t, ctx, dir, "search")

	// The module page.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#results a[href="/modules/example.com/lib"]`))); err != nil {
		t.Fatalf("open the module page: %v", err)
	}
	if h1 := run(t, ctx, "h1", chromedp.Text(chromedp.CSS("h1"))); h1 != "example.com/lib" {
		t.Errorf("module page heading %q", h1)
	}
	if v := run(t, ctx, "go get", chromedp.Value(chromedp.ID("goget"))); v != "go get example.com/lib@v1.2.0" {
		t.Errorf("go get line %q", v)
	}
	if n := run(t, ctx, "copy button", chromedp.Evaluate[int](`document.querySelectorAll(".goget button").length`)); n != 1 {
		t.Errorf("%d copy buttons next to the go get line, want 1", n)
	}
	versions := run(t, ctx, "versions", chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.versions tbody tr td:first-child a")].map(a => a.textContent)`))
	if fmt.Sprint(versions) != "[v1.2.0 v1.1.0]" {
		t.Errorf("versions table %v", versions)
	}
	if l := run(t, ctx, "licences", chromedp.Text(chromedp.CSS("dd.licences"))); !strings.Contains(l, "MIT") || !strings.Contains(l, "BSD-3-Clause") {
		t.Errorf("licences %q", l)
	}
	if n := run(t, ctx, "dependents", chromedp.Evaluate[int](`document.querySelectorAll('a[href="/modules/example.com/app"]').length`)); n != 1 {
		t.Errorf("%d links to the dependent example.com/app, want 1", n)
	}
	shot(t, ctx, dir, "module")

	// The bundle v1.2.0 came from.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`table.versions tbody tr:first-child a.digest`))); err != nil {
		t.Fatalf("open the bundle: %v", err)
	}
	if loc := run(t, ctx, "location", chromedp.Location()); loc != base+"/bundles/"+s.new {
		t.Fatalf("the origin link leads to %s", loc)
	}
	projects := run(t, ctx, "projects", chromedp.Evaluate[[]string](`[...document.querySelectorAll("li.project .path")].map(e => e.textContent)`))
	if fmt.Sprint(projects) != "[github.com/corp/portal github.com/corp/service]" {
		t.Errorf("projects %v", projects)
	}
	if sig := run(t, ctx, "signer", chromedp.Text(chromedp.ID("signer"))); sig != "minisign:"+signer {
		t.Errorf("signer %q", sig)
	}
	shot(t, ctx, dir, "bundle")

	// The SBOM download: the file the browser saves is the SBOM kept at
	// import.
	dl := t.TempDir()
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	defer dcancel()
	progress := chromedp.Events(dctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: new(true),
			})
			return err
		}),
		chromedp.Click(chromedp.ID("sbom-cdx")),
	); err != nil {
		t.Fatalf("download the SBOM: %v", err)
	}
	var got []byte
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the SBOM download was cancelled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			if got, err = os.ReadFile(filepath.Join(dl, ev.GUID)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if string(got) != string(s.cdx) {
		t.Errorf("downloaded SBOM:\n%s\nwant:\n%s", got, s.cdx)
	}
	dcancel()

	// What changed between the two imports.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href^="/diff?a="]`))); err != nil {
		t.Fatalf("open what changed: %v", err)
	}
	if sum := run(t, ctx, "diff summary", chromedp.Text(chromedp.CSS("p.summary"))); !strings.Contains(sum, "2 added, 2 changed, 0 not carried any more") {
		t.Errorf("diff summary %q", sum)
	}
	shot(t, ctx, dir, "diff")
	run(t, ctx, "bundles", chromedp.Navigate(base+"/bundles"))
	if n := run(t, ctx, "bundle rows", chromedp.Evaluate[int](`document.querySelectorAll("tr.bundle").length`)); n != 2 {
		t.Errorf("%d bundles in the history, want 2", n)
	}
	shot(t, ctx, dir, "bundles")
	run(t, ctx, "stats", chromedp.Navigate(base+"/stats"))
	if n := run(t, ctx, "modules", chromedp.Text(chromedp.ID("stat-modules"))); n != "4" {
		t.Errorf("statistics count %s modules, want 4", n)
	}
	shot(t, ctx, dir, "stats")

	// A phone: a second tab of the same browser (the same cookie) at
	// 390×844. No page may scroll sideways.
	phone, pcancel := chromedp.NewContext(ctx)
	defer pcancel()
	run(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	for _, p := range []struct{ path, shot string }{
		{"/", "phone-search"},
		{"/modules/example.com/app", "phone-module"},
		{"/bundles/" + s.new, "phone-bundle"},
		{"/bundles", ""},
		{"/diff", ""},
		{"/stats", ""},
	} {
		run(t, phone, "phone "+p.path, chromedp.Navigate(base+p.path))
		sizes := run(t, phone, "widths", chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if len(sizes) != 2 || sizes[1] > 400 || sizes[0] > sizes[1] {
			t.Errorf("phone %s: page width %v (scrollWidth, innerWidth): it overflows sideways", p.path, sizes)
		}
		if p.shot != "" {
			shot(t, phone, dir, p.shot)
		}
	}
	run(t, phone, "app", chromedp.Navigate(base+"/modules/example.com/app"))
	if txt := run(t, phone, "retracted row", chromedp.Text(chromedp.CSS("tr.retracted"))); !strings.Contains(txt, "v1.2.0") || !strings.Contains(txt, "retracted") {
		t.Errorf("the retracted version's row reads %q", txt)
	}
	pcancel()

	// Without JavaScript, the search form still works (a page load) and
	// the module page has no copy button, only the selectable line.
	nojs, ncancel := chromedp.NewContext(ctx)
	defer ncancel()
	if err := chromedp.Do(nojs, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	run(t, nojs, "no-JS home", chromedp.Navigate(base+"/"))
	run(t, nojs, "no-JS search", chromedp.SendKeys(chromedp.ID("q"), "app2"))
	if _, err := chromedp.RunResponse(nojs, chromedp.Submit(chromedp.ID("q"))); err != nil {
		t.Fatalf("submit the search without JavaScript: %v", err)
	}
	if loc := run(t, nojs, "location", chromedp.Location()); loc != base+"/?q=app2" {
		t.Errorf("the search form without JavaScript went to %s", loc)
	}
	rows := run(t, nojs, "results", chromedp.Nodes(chromedp.CSSAll("#results tr.result a")))
	if len(rows) != 1 || rows[0].AttributeValue("href") != "/modules/example.com/app2" {
		t.Errorf("search results without JavaScript: %d rows", len(rows))
	}
	if _, err := chromedp.RunResponse(nojs, chromedp.Click(chromedp.CSS(`#results a`))); err != nil {
		t.Fatalf("open the module page without JavaScript: %v", err)
	}
	if v := run(t, nojs, "go get", chromedp.Value(chromedp.ID("goget"))); v != "go get example.com/app2@v0.1.0" {
		t.Errorf("go get line without JavaScript %q", v)
	}
	if n := len(run(t, nojs, "buttons", chromedp.Nodes(chromedp.CSSAll(".goget button"), chromedp.AtLeast(0)))); n != 0 {
		t.Errorf("%d copy buttons without JavaScript, want none", n)
	}
	ncancel()

	// Logout with the button in the header (a form POST): the catalog
	// asks for a token again. A visit to /logout alone changes nothing.
	run(t, ctx, "visit /logout", chromedp.Navigate(base+"/logout"))
	run(t, ctx, "still logged in", chromedp.Navigate(base+"/stats"))
	if loc := run(t, ctx, "location", chromedp.Location()); loc != base+"/stats" {
		t.Errorf("a GET of /logout logged the browser out: %s", loc)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("nav form.logout button"))); err != nil {
		t.Fatalf("log out: %v", err)
	}
	if loc := run(t, ctx, "location", chromedp.Location()); loc != base+"/login" {
		t.Errorf("after logout: %s, want the login form", loc)
	}
	run(t, ctx, "catalog", chromedp.Navigate(base+"/stats"))
	if loc := run(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, base+"/login?next=") {
		t.Errorf("after logout the catalog shows %s, want the login form", loc)
	}
}
