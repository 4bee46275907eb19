// Package proxy serves a module store over the GOPROXY protocol
// (https://go.dev/ref/mod#goproxy-protocol):
//
//	GET $module/@v/list            release and pre-release versions, one a line
//	GET $module/@v/$version.info   JSON {"Version", "Time"}
//	GET $module/@v/$version.mod    the go.mod, exactly the stored bytes
//	GET $module/@v/$version.zip    the module zip, streamed from the store
//	GET $module/@latest            the .info of the version the go command would pick
//
// Request paths are parsed by modfiles.ParseRequest, and files named by
// modfiles.Name. Module paths and versions are case-escaped ("!x" for "X"); the go
// command also percent-encodes "!", which net/http decodes before parsing.
// A malformed path is 400; a well-formed request for something the store
// lacks is 404, or 410 if it was deleted — both of which the go command
// treats as "not here". The .info, .mod and .zip files never change once
// written, so they carry a strong ETag and a year-long immutable
// Cache-Control; list and @latest change as modules arrive and carry a
// short max-age.
//
// Small files (.info, .mod) are served from a bounded in-memory cache;
// zips are streamed with http.ServeContent, which on a disk store reaches
// the kernel's sendfile, on a corked connection where the server keeps it
// in the request's context (package cork), so that the header leaves with
// the body.
//
// A cached file is confirmed with the store again once it is a second old
// (Options.Recheck), so that a deletion by another process shows within a
// second. On a store kept elsewhere (S3, several replicas) that would be a
// request to the object store for nearly every client request; there the
// Handler looks instead at the removal stamp (modules.RemovalStamp), which
// every deletion and prune rewrites, once a second, and trusts what the
// store confirmed while the stamp is unchanged, up to Options.MaxAge. A
// zip is confirmed only once its version is complete (.info present, no
// publish pending), and may then be served from a ZipCache of copies on
// local disk.
package proxy
