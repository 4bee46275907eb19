// Package catalog is an index of what a module store holds, for the
// metadata API, the web catalog and the ls/search/show commands: which
// modules and versions there are, their times, sizes and hashes, which are
// retracted or deprecated, which bundle brought each version, what each
// requires and what requires it.
//
// # What it reads
//
// Everything comes from the store itself, never from a side database (the
// licence caches are derived from the store's zips and checked against
// them), so the catalog of a store written by another process (an import
// from the command line, a second server on the same directory) is the
// same as the catalog of a store written in-process:
//
//   - download/<escaped path>/@v/ (the GOPROXY layout of package modules):
//     a version with .info, .mod and .zip is complete; one with a .mod and
//     no .zip is go.mod-only (a go.mod the module graph needs); one with a
//     .gone record is deleted and left out; one with a .zip but no .info is
//     being written (an import or publish that has not reached its commit
//     point) and is left out until it is complete.
//   - .mod for its size, its h1: hash, its go directive and its
//     requirements, and the .zip's size (one stat on a disk store): that
//     is what the index needs for search, statistics and dependents. The
//     .info (the version's time) and the .ziphash (the zip's h1: hash) are
//     read after the first full pass, in the background (or when a module
//     page asks for them first), and kept.
//   - The go.mod of the latest version (as the go command picks it,
//     ignoring retractions: the highest release, else the highest
//     pre-release, else the highest pseudo-version; a +incompatible
//     release only when there is no other release) for its retract
//     directives and its "// Deprecated:" module comment. The latest
//     version the catalog reports is then the one "go get M@latest" picks:
//     the same rule over the versions that are not retracted (if every
//     version is retracted, the version the rule picks ignoring
//     retractions, marked retracted).
//   - bundles/<digest>.json, the import history of package importer: a
//     version came from the earliest-imported bundle whose manifest lists
//     it.
//   - The audit log (package audit: audit/log.jsonl on a local store,
//     the journal audit/entries/ on any other): a version no bundle
//     lists came from a publish if the log records one that succeeded.
//     The log only grows, so each refresh reads only what was appended
//     since the last ([audit.IndexReader]). A journal is read one object
//     per entry (~1 ms each on an object store), so the catalog starts
//     from a checkpoint of what the entries up to one of them record
//     (audit.IndexCheckpoint, written by servers after a long read) and
//     reads only the entries after it. Run reads the log after each
//     refresh, in the background, and module pages and the import
//     history when they need it; Refresh does not, so that ls and search
//     never read it. A version neither records (added from a module
//     cache with import --cache-dir) has no Origin.
//   - bundles/<digest>.json again, and bundles/<digest>/sbom.*.json, for
//     the import history ([Catalog.Bundles], [Catalog.Bundle],
//     [Catalog.BundleFile]), listed on every call; each record is read
//     once (records never change). The signers of each import come from
//     the audit log's import entries.
//   - The licences of each version a module page shows: those the
//     CycloneDX SBOM kept for the bundle it came from lists (export
//     detected them), else those package sbom detects in the licence
//     files at the zip's root (github.com/google/licensecheck), reading
//     only the zip's directory and those files. Detected licences are
//     kept in memory and in the store, at LicenseDir/<escaped
//     path>/@licenses.json, keyed by each zip's h1: hash and size: a
//     cache, derived from the zips, that spares a restarted server the
//     detection (a module page reads it once) and that a zip with other
//     content never matches. A ReadOnly catalog writes none. While
//     [Catalog.Run] runs, the licences of every version are found in the
//     background after each pass (from those sources, writing the
//     caches), and kept in the index's version entries, so that a module
//     page reads no zip and no cache: on a big store most page views are
//     a module's first, and each used to detect the licences of every
//     version it showed.
//   - sumdb/<name>/ for the checksum databases' tree heads (package
//     checksumdb), read when Stats is asked for.
//
// # Staying correct while the store changes
//
// Module files are immutable: a version's files appear (last its .info),
// and a delete writes .gone and removes the others; nothing is rewritten in
// place. So the list of names in a module's @v directory says everything
// about which of its files exist, and the catalog keeps, for each module, a
// 64-bit fingerprint of that list. Checking a module is one List of one
// directory, with no file read; only a module whose fingerprint changed is
// read again, and then only its versions whose set of files changed.
//
//   - [Catalog.Module] checks the module's fingerprint on every call, so a
//     module page is always exact, whichever process changed the store
//     and however recently (its dependents come from the index, see below);
//     when a version has no known origin it reads the import records and
//     audit log appended since, so its origin is exact too (on a store
//     kept elsewhere, only when the addition stamp changed since it last
//     did: imports and publishes rewrite it after their record and entry).
//   - [Catalog.Refresh] checks every module: it walks download/ with List
//     (one call per directory, no file read for unchanged modules), reads
//     the changed ones again, drops modules whose @v directory no longer
//     holds a version, and reads new import records. The server runs it
//     periodically ([Catalog.Run]) and may call [Catalog.RefreshModules]
//     right after its own imports, publishes and deletes, so that its own
//     changes show at once in search results, dependents and statistics;
//     changes made by other processes show there within the refresh
//     interval, and on module pages at once.
//
// On a local store that walk is cheap (a stat per module while its @v
// directory is unchanged). On a store kept elsewhere (S3) it is a listing
// per directory: thousands of requests a minute on a big store, from every
// server. There Refresh first reads two stamps that the writers rewrite
// once their change is visible (modules.AdditionStamp: imports, publishes,
// import --cache-dir, fill-through; modules.RemovalStamp: deletes and
// prunes), and skips the walk while both are as they were before its last
// complete walk. A writer that does not stamp (an older modferry on the
// same store) is not trusted to exist or not: every FullWalkEvery-th
// refresh walks anyway, so its changes show within that many intervals.
//
// # Start-up
//
// [Catalog.Run] builds the index in the background; queries do not wait
// for it. A full pass first walks download/ and enters every module it
// does not know from its listing alone (its versions and latest version,
// no file read), then reads the files of each. Until the first full pass
// is done, [Catalog.Ready] is false and every answer carries Partial: true:
// search results cover the modules the walk has reached (all of them once
// it is over, a small part of the pass), statistics count the bytes and
// dependents the go.mod files read so far. A module page is exact even
// then, because Module reads the module's own files when the index does
// not have them yet. [Catalog.WaitReady] waits for the first pass. Once
// Ready, the same Refresh goes on to read the details only module pages
// show (times and zip hashes: two small files per version), so that on a
// big store, where most page views are a module's first, a view reads no
// more than its directory listing and the latest go.mod.
//
// # Memory
//
// The index keeps, per version, a fixed-size record: interned version and
// go-version strings (package unique), times and sizes as integers, hashes
// as 32-byte arrays, and the requirements of its go.mod as pairs of
// interned strings; the reverse index holds, per required module, one
// 24-byte edge per requiring version. Search runs over one lower-cased
// text of all module paths in sorted order, with a trigram index of it
// (about 4 bytes per trigram of each path) so that a substring of three
// bytes or more costs what its rarest trigram's candidates cost, not a scan
// of every path; shorter substrings scan. At 100,000 versions (10,000
// modules, three requirements per go.mod) the index holds about 50 MB of
// heap (BenchmarkBuild).
package catalog
