// Package fillthrough makes a store a caching proxy of an upstream GOPROXY,
// for the connected side: a team or CI proxy whose contents can be
// exported as a signed bundle (export --from-store).
//
// On a miss, a .info or .mod request fetches the version's .info and .mod
// from the upstream; a .zip request fetches the zip too. Before anything
// is stored, the go.mod's (and zip's) h1: hashes must match the checksum
// database's record for the version, proven as package checksumdb proves
// it for a bundle: the lookup, the tiles that prove its record is in a
// tree, and that tree's head signed with the database's key. The proof is
// then imported into the store's checksum-database area ("sumdb/<name>/"),
// so the store serves it offline and an export carries it. Module paths
// matching the private patterns (as GOPRIVATE/GONOSUMDB) are stored
// without that check. Files are stored through modules.Repo in commit
// order (.mod, .zip, .ziphash, .info last), so they are served like
// imported versions.
//
// Each file is fetched once however many clients ask at once
// (singleflight, keyed by version and level).
//
// $module/@v/list and $module/@latest change upstream, so they are asked
// of the upstream each time, with answers (404s included) kept ListTTL
// (one minute by default); when the upstream is unreachable the store's
// own answer is served.
//
// /sumdb/<name>/... is forwarded to the upstream's /sumdb/<name>/, for
// the one database configured: lookups and tiles are kept in a bounded
// memory cache (their content never changes), "latest" for ListTTL.
//
// Upstream failures reach clients as the go command expects: an upstream
// 404 or 410 is 404 or 410 ("not found", cached ListTTL at most, never
// stored); a network error, timeout or 5xx is 502 or 504, so that the go
// command tries the next proxy in its list. A module whose hashes differ
// from the checksum database's is refused with 502 and not stored.
package fillthrough
