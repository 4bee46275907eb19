package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/catalog"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
	"github.com/modferry/modferry/internal/web"
)

// BenchmarkModulePage renders module pages: "leaf", a module of ten
// versions that nothing requires, and "popular", one that 100 modules of
// ten versions each require (the longest dependents list a page shows).
//
//	go test ./internal/web -run '^$' -bench ModulePage -benchmem
func BenchmarkModulePage(b *testing.B) {
	st := store.NewMem()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	add := func(path string, i int, gomod string) {
		v := module.Version{Path: path, Version: fmt.Sprintf("v1.0.%d", i)}
		body := "zip of " + v.String()
		info, _ := json.Marshal(modules.InfoJSON{Version: v.Version, Time: t0.Add(time.Duration(i) * time.Hour)})
		f := modules.Files{Mod: strings.NewReader(gomod), Zip: strings.NewReader(body), ZipHash: h1(body), Info: strings.NewReader(string(info))}
		if err := (&modules.Repo{Store: st}).Add(ctx, v, f); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10 {
		add("example.com/popular", i, "module example.com/popular\n\ngo 1.22\n")
		add("example.com/leaf", i, "module example.com/leaf\n\ngo 1.22\n\nrequire example.com/popular v1.0.0\n")
		for d := range 100 {
			p := fmt.Sprintf("example.com/dep%03d", d)
			add(p, i, "module "+p+"\n\ngo 1.22\n\nrequire example.com/popular v1.0."+fmt.Sprint(i)+"\n")
		}
	}
	c := catalog.New(st)
	if err := c.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range web.New(web.Options{Catalog: c}).Routes() {
		mux.HandleFunc(r.Pattern, r.Handler)
	}
	for _, name := range []string{"leaf", "popular"} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/modules/example.com/"+name, nil)
			for b.Loop() {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
