// Command scaletool is the Go half of bench/scale.sh:
//
//	scaletool auditgen DIR N     write a valid hash-chained audit log of N entries in DIR
//	scaletool journalput URL DIR write DIR/log.jsonl's entries into the s3:// store at URL
//	                             as its audit journal, one object per entry
//	scaletool auditindex [-fresh] URL
//	                             read the audit log of the s3:// store at URL as a starting
//	                             server's catalog does (-fresh: without its checkpoint);
//	                             print seconds, reads, names listed
//	scaletool paths KIND MODS    print request paths of one kind (list, latest, info,
//	                             search, module, web-home, web-module) for a store of MODS modules
//	scaletool wait [-ready] T0 URL
//	                             poll URL until it answers 200; print the ms since T0 (Unix ns)
//	scaletool report RESULTS.tsv ENV.md MDFILE SVGPREFIX
//	                             write the report and the plots from the raw figures
//
// It lives in the main module so that auditgen can chain entries with
// package audit itself (the same encoding and hashing as 'modferry
// import' and 'audit verify'), without one CLI call per entry.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "auditgen":
		err = auditgen(os.Args[2:])
	case "journalput":
		err = journalput(os.Args[2:])
	case "auditindex":
		err = auditindex(os.Args[2:])
	case "paths":
		err = paths(os.Args[2:])
	case "wait":
		err = wait(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaletool:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: scaletool auditgen DIR N | journalput URL DIR | auditindex [-fresh] URL | paths KIND MODS | wait [-ready] T0 URL | report RESULTS.tsv ENV.md MDFILE SVGPREFIX")
	os.Exit(2)
}
