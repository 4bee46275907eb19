// Package modfiles names, parses and hashes the files of Go module
// versions. It is the one place that spells the layout the GOPROXY
// protocol, the go command's GOMODCACHE/cache/download, modferry's store
// and modferry's bundles share, so every other package asks it rather than
// escaping paths itself. It imports no other modferry package.
//
// # Module files
//
// The files of a module version are named
//
//	download/<escaped path>/@v/<escaped version>.<kind>
//
// where the escapes are those of golang.org/x/mod/module (EscapePath,
// EscapeVersion: an upper-case letter becomes "!" and its lower case) and
// kind is a [Kind]:
//
//	info     {"Version":..., "Time":...}
//	mod      the go.mod, byte for byte as served upstream
//	zip      the module zip
//	ziphash  the zip's h1: hash (as in GOMODCACHE)
//	gone     a deletion record (modferry's store only)
//
// [Name] returns that name; [ProxyPath] returns it without the leading
// "download/", as a GOPROXY request path and the go command's module cache
// spell it; [ParseName] is the inverse of Name. The module's version list
// is "download/<escaped path>/@v/list" ([ListName]): its release and
// pre-release versions, one a line, in semver order ([ListFile]).
//
// # Commit order
//
// A version is complete, and listed, when its .info exists beside its .mod
// and .zip. Writers therefore write, per version, the .mod, then the .zip
// and .ziphash, then the .info ([CommitOrder]), each atomically, and only
// then rewrite the list: a reader that sees the .info finds the rest, and
// a writer interrupted before the .info leaves nothing listed. A version
// without a zip (only its go.mod is needed) gets a .mod and an .info.
//
// # Other names
//
// A module version alone is spelled "<escaped path>/@v/<escaped version>"
// ([ParseVersionPath]), as in the HTTP API's module URLs. A publish in
// progress is recorded at "pending/" and that spelling ([PendingName],
// [ParsePendingName]). A checksum database
// serves the record of a module version at "lookup/<escaped
// path>@<escaped version>" below its root ([LookupPath],
// [ParseLookupPath]).
//
// # Versions
//
// [Check] is the check the go command applies before asking a proxy for a
// version: a valid module path, a canonical semantic version consistent
// with the path's major version suffix. Names modferry writes into bundles
// obey it.
//
// # GOPROXY requests
//
// [ParseRequest] parses a request path of the GOPROXY protocol:
//
//	$module/@v/list
//	$module/@v/$version.info
//	$module/@v/$version.mod
//	$module/@v/$version.zip
//	$module/@latest
//
// Malformed paths match [ErrBadPath]; well-formed requests for versions no
// proxy can hold match [ErrNoSuchVersion]. [ParseUpstreamRequest] is the
// variant for a proxy that forwards to an upstream, which lets .mod
// requests for such versions through.
//
// # Hashes
//
// [HashMod] and [HashZip] compute the h1: hashes go.sum and the checksum
// database record: dirhash.Hash1 over the single file "go.mod", and over
// the files of a module zip.
package modfiles
