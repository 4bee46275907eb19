// Package publish adds private module versions to a store: it builds a
// module zip from a source directory or a git tag, checks it, and writes it
// to the store's GOPROXY layout, where the server then lists and serves it
// like any imported module.
//
// # The rules
//
// A published version is what the go command would have downloaded had
// the module been on a public VCS host:
//
//   - the zip follows the module zip rules of golang.org/x/mod/zip: files
//     under "PATH@VERSION/", no vendor or nested-module files, no file
//     names that collide on case-insensitive file systems, at most
//     zip.MaxZipFile bytes (500 MiB) in all and zip.MaxGoMod bytes of
//     go.mod;
//   - the go.mod at the module root declares exactly the module path, and
//     the .mod file served is that go.mod byte for byte;
//   - a +incompatible version has no go.mod, and its .mod is the one the go
//     command synthesizes: "module PATH\n";
//   - the .info file is {"Version":VERSION,"Time":TIME}, TIME being the
//     publish time or, for a git tag, the commit time.
//
// # Versions are immutable
//
// Once a version is in the store — published, imported, or only its go.mod
// — it is never replaced, and a deleted version is never published again:
// go.sum files and the checksum database have recorded its hashes, and a
// second content under the same name would break every build that
// recorded the first. [Publish] therefore writes every file with
// store.Store.Create, which fails when the object exists. It first creates
// the version's publish intent (modfiles.PendingName: host, process, start
// time), which claims the version — a concurrent publisher fails there —
// and keeps its files from being served; then, in commit order
// (modfiles.CommitOrder), the .mod, .zip and .ziphash, then the .info, the
// commit point; and last removes the intent. A failure
// before the commit removes what the call created. A crash (SIGKILL) leaves
// the intent behind: the files are not served, and [Recover] (run by the
// server at start-up and periodically) or the next Publish of the version
// rolls the interrupted publish back once its process is gone, so the
// version is not used up.
//
// # The import lock
//
// A module's @v/list file is rewritten from the store by every writer
// that changes the module's versions, so two writers at once could each
// write a list without the other's version. Every such writer therefore
// holds the store's import lock (store.LockImport) while it does: an
// import while it commits, prune, a fill-through store's fill, and here
// [Publish] for its commit (the .info, the intent's removal and the
// list), [Delete] for the whole delete and [Recover] while it recovers.
// The files of a publish are written before it takes the lock, so the
// lock is held briefly; an import holds it only while it commits, after
// it has checked the whole bundle. A publish or delete that cannot have
// the lock within [LockWait] gives up with an error matching
// store.ErrLockBusy ("an import is running on this store ... retry")
// and, for a publish, removes what it wrote; the server answers it 503
// with Retry-After: [LockRetryAfter]. On an S3 store the lock is a lease,
// which a publish checks before its commit (store.Held.Check).
//
// [Check] is the check the server runs on an uploaded zip and .mod before
// [Publish]: the zip rules, the module path in go.mod, and the .mod equal
// to the zip's go.mod.
package publish
