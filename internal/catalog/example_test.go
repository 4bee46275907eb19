package catalog_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"golang.org/x/mod/module"

	"github.com/modferry/modferry/internal/catalog"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/store"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "catalog-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.NewDisk(dir)
	if err != nil {
		log.Fatal(err)
	}
	repo := &modules.Repo{Store: st}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		err := repo.Add(ctx, module.Version{Path: "example.com/Hello", Version: v}, modules.Files{
			Mod: strings.NewReader("module example.com/Hello\n\ngo 1.22\n\nretract v1.1.0 // broken\n"),
			Zip: strings.NewReader("a zip"),
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	c := catalog.New(st)
	if err := c.Refresh(ctx); err != nil { // a server runs c.Run in the background instead
		log.Fatal(err)
	}
	res, err := c.Search(ctx, catalog.Query{Q: "hello"})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range res.Modules {
		fmt.Println(m.Path, m.Latest, m.Versions)
	}
	m, err := c.Module(ctx, "example.com/Hello", catalog.ModuleOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range m.Versions {
		fmt.Println(v.Version, v.Retracted, v.RetractRationale, v.GoVersion)
	}
	// Output:
	// example.com/Hello v1.0.0 2
	// v1.1.0 true broken 1.22
	// v1.0.0 false  1.22
}
