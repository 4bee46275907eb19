// Package resolve finds and fetches every module file the go command
// (Go 1.21 or newer) requests when it works offline on a set of projects
// and module@version arguments.
//
// Resolution is the go command's own job, so this package does not
// re-implement minimal version selection. Instead it drives the real go
// command through a recording proxy:
//
//   - A [Recorder] listens on 127.0.0.1 and speaks the GOPROXY protocol. It
//     forwards requests to the upstream GOPROXY list (with the list's ',' and
//     '|' fall-through rules), retries transient failures with exponential
//     backoff, stores every .info, .mod and .zip it serves under
//     WorkDir/download in the GOPROXY cache/download layout (atomically,
//     through package safefile), and records what was requested. /sumdb/
//     requests are passed through and never recorded, so the real checksum
//     database checks every module the go command sees; the files of the
//     database that never change (lookups and full tiles) go through
//     Options.SumDBFiles (the export's work dir keeps them, as the go
//     command would keep them in its own module cache, and its prefetch
//     of the proofs fetches them once for both), and are checked by the
//     go command either way.
//   - Each project is copied (go.mod and go.sum are never modified in the
//     user's tree), and in the copy the go command runs with a private
//     GOPATH, GOMODCACHE and GOCACHE, GOPROXY pointing at the recorder,
//     GOTOOLCHAIN=auto, GOFLAGS=-mod=mod (not in workspace mode, where
//     the go command rejects it) and, unless the user sets one, GOMAXPROCS
//     at the recorder's fetch limit (the go command downloads as many
//     modules at once as its GOMAXPROCS). The project copies and that
//     private module cache live in Options.RunDir when it is set (export
//     puts them in memory, under /dev/shm, when there is room), else in
//     WorkDir. The toolchain the project selects
//     ([SelectToolchain], as the go command does online by default) is
//     downloaded first through the recorder with go mod download, checked
//     against the checksum database, so that it is recorded even when a
//     go1.X.Y binary in PATH would serve instead. Then:
//     go list -m all (the go.mod files of the graph, and the build list),
//     go list -deps -test ./... in each main module, go mod tidy in each
//     main module, and, if tidy changed a go.mod, go list -m all again on
//     the tidied graph. Then the zips of the build lists that no go
//     command fetched: together, what go mod download all fetches, but
//     the go command extracts only the modules that provide packages
//     ([zipFetcher] fetches the rest and checks their h1: hashes against
//     the project's go.sum; the export checks them against the checksum
//     database). (Not go mod verify: offline it asks for nothing these
//     have not fetched, and online it would only re-hash the module
//     cache.)
//     Projects resolve a few at once (as many as module arguments), sharing
//     the recorder and the module cache. Each go command gets its own
//     GOPROXY URL on the recorder (/c/ID), so every request is credited to
//     the command that made it (Result.Requests) even while others run.
//   - Each path@version argument is resolved on its own, a few in
//     parallel, sharing the recorder and module cache. A command (a package
//     path, or a module whose root is a command) is resolved by
//     go install -n path@version, which resolves it as its own main module
//     and loads its packages without compiling them; any other argument
//     (a library module) in a synthetic main module (modferry.invalid/pool)
//     of its own with go get, then loaded like a project. No two arguments
//     share a main module, so none raises another's dependencies.
//   - Finally the set is made robust for other go versions: every version
//     whose .mod was requested also gets its .info, every .zip gets its
//     .info and .mod, and every version only stat'ed (.info, as the go
//     command does for the newest entry of a version list, which some
//     proxies fill with pseudo-versions) gets its .mod, or is left out if
//     the upstream will not serve it.
//
// Modules matching GONOPROXY (or GOPRIVATE) never reach the recorder: the go
// command fetches them directly from version control with the user's
// credentials, and Resolve picks their files up from the private module
// cache afterwards.
package resolve
