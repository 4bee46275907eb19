package main

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/mod/module"
)

// The synthetic store's names (bench/synthcache with -big 100).
const bigModule = "github.com/Synth0/Big"

func modPath(m int) string {
	if h := m % 40; h < 20 {
		return fmt.Sprintf("github.com/Synth%d/Mod%05d", h, m)
	} else {
		return fmt.Sprintf("example.com/lib%d/Mod%05d", h-20, m)
	}
}

func escaped(p string) string {
	e, err := module.EscapePath(p)
	if err != nil {
		panic(err)
	}
	return e
}

// paths prints 4,000 request paths of one kind for a store of MODS
// modules of 10 versions (and the big module), picked with a fixed seed.
func paths(args []string) error {
	if len(args) != 2 {
		usage()
	}
	kind := args[0]
	mods, err := strconv.Atoi(args[1])
	if err != nil || mods < 1 {
		return fmt.Errorf("the module count: want a positive number")
	}
	r := rand.New(rand.NewPCG(uint64(mods), 11))
	for i := range 4000 {
		m := r.IntN(mods)
		p := modPath(m)
		if i%16 == 0 {
			p = modPath(0) // the module every other requires: the longest dependents list
		}
		var line string
		switch kind {
		case "list":
			line = "/" + escaped(bigModule) + "/@v/list"
		case "latest":
			line = "/" + escaped(bigModule) + "/@latest"
		case "info":
			// A random version of a random module: the whole store,
			// not only what a cache holds.
			line = fmt.Sprintf("/%s/@v/v1.0.%d.info", escaped(modPath(m)), r.IntN(10))
		case "search", "web-home":
			var q url.Values
			switch i % 4 {
			case 0: // the last element of a path: few matches
				q = url.Values{"q": {strings.ToUpper(p[strings.LastIndexByte(p, '/')+1:])}}
			case 1: // a substring that matches many
				q = url.Values{"q": {p[:min(len(p), 12)]}, "limit": {"20"}}
			case 2: // a prefix
				q = url.Values{"prefix": {p[:strings.IndexByte(p, '/')+1]}}
			default: // matches nothing: the whole text is scanned
				q = url.Values{"q": {"no-such-module"}}
			}
			if kind == "search" {
				line = "/api/v1/modules?" + q.Encode()
			} else {
				line = "/?" + q.Encode()
			}
		case "module":
			line = "/api/v1/modules/" + escaped(p)
		case "web-module":
			line = "/modules/" + p
		default:
			return fmt.Errorf("unknown kind %q", kind)
		}
		fmt.Println(line)
	}
	return nil
}
