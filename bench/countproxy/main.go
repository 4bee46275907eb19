// Command countproxy is a GOPROXY in front of another one that counts the
// requests it passes on, for bench/exportnet.sh (COUNT=1): how many
// checksum-database lookups and tiles an export asks for, and how many of
// those ask again for a file asked for before.
//
//	countproxy ADDR TARGET
//
// GET /_counts prints "lookups tiles repeats other" (other: the module
// files, lists and the database's head) since the last GET /_reset.
package main

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: countproxy ADDR TARGET")
	}
	target, err := url.Parse(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	direct := rp.Director
	rp.Director = func(r *http.Request) { direct(r); r.Host = target.Host }

	var (
		mu                             sync.Mutex
		lookups, tiles, repeats, other int
		seen                           = map[string]bool{}
	)
	http.HandleFunc("/_reset", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lookups, tiles, repeats, other = 0, 0, 0, 0
		seen = map[string]bool{}
		mu.Unlock()
	})
	http.HandleFunc("/_counts", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fmt.Fprintf(w, "%d %d %d %d\n", lookups, tiles, repeats, other)
		mu.Unlock()
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		mu.Lock()
		switch {
		case strings.HasPrefix(p, "/sumdb/") && strings.Contains(p, "/lookup/"):
			lookups++
		case strings.HasPrefix(p, "/sumdb/") && strings.Contains(p, "/tile/"):
			tiles++
		default:
			other++
		}
		if strings.HasPrefix(p, "/sumdb/") && !strings.HasSuffix(p, "/latest") && !strings.HasSuffix(p, "/supported") {
			if seen[p] {
				repeats++
			}
			seen[p] = true
		}
		mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	log.Fatal(http.ListenAndServe(os.Args[1], nil))
}
