// Package bundle reads and writes modferry bundles: signed tar+zstd files
// that carry Go modules, their checksum-database proofs and SBOMs into an
// offline network.
//
// # Format (version 1)
//
// A bundle is a POSIX tar archive compressed as one zstd frame, so
// `tar --zstd -xf` can unpack it. Its members are, in this order:
//
//  1. MANIFEST.json: the [Manifest], in canonical JSON (see
//     [Manifest.Marshal]).
//  2. The signatures of MANIFEST.json, each optional, in this order:
//     MANIFEST.json.minisig (minisign, checked by `minisign -V`) and
//     MANIFEST.json.asc (an armored detached OpenPGP signature with one or
//     more signature packets, checked by `gpg --verify`). Both may be
//     absent only in bundles read with ReadOptions.AllowUnsigned. Which
//     signers suffice is the caller's policy (ReadOptions.Verify).
//  3. Every file the manifest lists, in manifest order: sbom.cdx.json,
//     sbom.spdx.json, then download/..., then sumdb/..., then vulndb/....
//
// Member names are slash-separated, relative, and clean: no empty, "." or
// ".." elements, no backslashes, no control characters. The only names are
//
//	MANIFEST.json
//	MANIFEST.json.minisig, MANIFEST.json.asc
//	sbom.cdx.json, sbom.spdx.json
//	download/<escaped module path>/@v/<escaped version>.info|.mod|.zip
//	sumdb/<name>/latest
//	sumdb/<name>/lookup/<escaped module path>@<escaped version>
//	sumdb/<name>/tile/... (a tile path as golang.org/x/mod/sumdb/tlog writes it)
//	vulndb/index/db.json, vulndb/index/modules.json, vulndb/index/vulns.json
//	vulndb/ID/<id>.json
//
// download/ is the GOPROXY and GOMODCACHE cache/download layout (see
// package modfiles); the module path and version must unescape to a valid,
// canonical module.Version (modfiles.Check).
//
// Every member is a regular file whose tar header is exactly the one [Write]
// produces: mode 0644, modification time = Manifest.Created, no owner, no
// link, USTAR format (PAX only for a name USTAR cannot hold). The archive
// ends with the two zero blocks of the tar end marker and nothing after it.
// The zstd frame carries a content checksum and has the window [Write] uses.
// With those rules the uncompressed stream is a function of the manifest,
// the signature, the member contents and the order of the members, so any
// change to any byte of a bundle is rejected, not only changes to the
// parts the hashes cover, with one exception: [Read] does not check the
// order of the members after the manifest and its signature. Reordering
// them changes no content that is checked or imported (every member is
// still matched by name and SHA-256 against the signed manifest, and the
// set of members is fixed), but it does change the bundle file's SHA-256,
// which names the bundle in the import history.
//
// # Checks on reading
//
// [Read] makes one streaming pass: the manifest and its signature come first
// and the signature is checked before any other member is accepted. Each
// member must then be listed in the manifest, appear once, not exceed its
// declared size (reading stops one byte past it) and match its SHA-256. After
// the stream, every listed member must have been seen, every module zip must
// satisfy the module zip rules of golang.org/x/mod/zip and match its h1: hash,
// and every go.mod and .info file must belong to its module. The vulndb/
// members, present only with a manifest "vulndb" description, are the Go
// vulnerability database in the layout govulncheck reads (see package
// vulndb): every entry must be valid OSV stored under its own ID, and the
// indexes must be exactly the ones the entries give. Members are
// written to a [Stage] as they stream (module zips by the workers that
// check them, from memory, beside the stream); nothing is trusted until
// Read returns nil, so callers move staged files into a store only after
// that.
//
// # Errors
//
// Every error that says a bundle is bad matches [ErrInvalid] with
// errors.Is, and one of the finer Err* values says which rule it breaks;
// an error about one member is a [*MemberError] naming it. An error that
// matches none of them is the reader's own failure (a full staging disk,
// a cancelled context), not the bundle's.
package bundle
