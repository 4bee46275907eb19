// Package vulndb carries the Go vulnerability database into an offline
// network: it converts the OSV entries of the golang.org/x/vulndb module
// into the layout govulncheck reads, checks that layout, keeps the newest
// copy in a store, and serves it.
//
// # Layout
//
// The database is the one the public Go vulnerability database serves
// (https://go.dev/security/vuln/database#api), as plain JSON:
//
//	index/db.json       {"modified": TIME}: the newest entry's modified time
//	index/modules.json  [{"path": MODULE, "vulns": [{"id", "modified", "fixed"}]}], by path, then id
//	index/vulns.json    [{"id", "modified", "aliases"}], by id
//	ID/<id>.json        the OSV entry <id>
//
// "fixed" is the highest version that fixes the vulnerability in that
// module, without the "v" prefix, and is left out when the newest affected
// range has no fix. Each entry is stored compact, with the keys in
// sorted order. The layout is canonical: [Check] rebuilds the three
// indexes from the entries and requires them byte for byte, so an index
// cannot hide an entry.
//
// # Source
//
// The entries come from the data/osv/*.json files of the golang.org/x/vulndb
// module zip, which the Go module proxy serves like any other module. Those
// files carry a zero "modified" time (the public database fills it in when
// it publishes); [FromModuleZip] sets such times to the time of the module
// version, that is of the commit the data comes from, so that a newer
// vulndb version always yields a newer database.
//
// # Validity
//
// An entry is valid OSV for this purpose when it is a JSON object whose
// "id" matches its file name (letters, digits, '.', '_' and '-'), whose
// "modified" time is set, and whose "affected" packages are in the Go
// ecosystem with a module path (or the Go database's "stdlib" and
// "toolchain") and SEMVER ranges whose events each carry exactly one of
// "introduced" or "fixed", a semantic version without "v" ("0" for
// introduced).
//
// # Store
//
// In a store the database lives under vulndb/: each installed copy in its
// own directory vulndb/<stamp>/ with the files above, and the file
// vulndb/current naming the directory in use. [Handler] serves each file
// also as .json.gz, which is what govulncheck's HTTP client asks for. [Install] writes a new copy
// whole, then switches vulndb/current in one atomic write, then removes the
// old copy; it refuses to go back to an older database.
package vulndb
