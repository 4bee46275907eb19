// Package api is the contract of modferry's JSON API under /api/v1: its
// paths, its request and response bodies, and the [Client] that the
// publish, delete, import, ls, search and show --server commands use. Package server serves
// it; this package imports neither the server nor the command line.
//
// # Routes
//
// Each route needs one token scope (see package auth):
//
//	GET    /api/v1/modules/<escaped path>/@v/<escaped version>    read
//	       200 VersionInfo; 404 not in the store; 410 Deleted
//	PUT    /api/v1/modules/<escaped path>/@v/<escaped version>    write
//	POST   (the same)
//	       multipart/form-data: part "mod" (the .mod), part "zip" (the
//	       module zip, exactly one zip archive; stored as x/mod/zip
//	       re-creates it), optional part "time" (RFC 3339; default: now),
//	       each part once
//	       201 Result; 400 invalid module or body; 408 too slow; 409
//	       version exists, was deleted or is being published; 413 too
//	       large; 429 too many uploads; 507 disk full
//	DELETE /api/v1/modules/<escaped path>/@v/<escaped version>?reason=TEXT
//	       delete; 200 Deleted; 400 no reason; 404 no such version
//	POST   /api/v1/bundles                                        write
//	       body: the bundle file; 200 importer.Result; 400 the bundle
//	       fails a check; 403 the server trusts no bundle key (serve
//	       --pubkey); 408 it arrived too slowly; 409 it conflicts with
//	       the store; 413 over serve --max-bundle-size; 429 too many
//	       uploads at once (Retry-After); 501 not a disk store; 507 the
//	       store's disk is full or would fall below serve
//	       --min-free-space
//	GET    /api/v1/modules?q=&prefix=&limit=&cursor=              read
//	       200 SearchResult; 400 bad limit or cursor
//	GET    /api/v1/modules/<escaped path>[?version=&dependents=]  read
//	       (a path without "/@v/") 200 Module; 400 not an escaped
//	       module path; 404 no such module or version
//	GET    /api/v1/bundles                                        read
//	       200 BundleList (the import history)
//	GET    /api/v1/bundles/<digest>                               read
//	       200 Bundle, with its manifest; 404
//	GET    /api/v1/bundles/<digest>/<download>                    read
//	       manifest.json, sbom.cdx.json, sbom.spdx.json; 200; 404
//	GET    /api/v1/stats                                          read
//	       200 Stats
//	GET    /api/v1/openapi.json                                   none
//	       the OpenAPI 3.1 document of the GET routes
//	GET    /api/v1/tokens                                         admin
//	       200 [auth.Info, ...]
//	POST   /api/v1/tokens                                         admin
//	       TokenRequest; 201 TokenCreated; 400 bad request; 409 name in use
//	DELETE /api/v1/tokens/<name>                                  admin
//	       200 TokenRevoked; 404 no such token
//
// Every request that changes something may also answer 507 while the
// audit log has no room and 503 on a read-only store or a damaged log.
// Errors have a JSON body, [ErrorBody]; [Client] returns them as *[Error],
// which keeps the status code.
package api
