// Package auth holds modferry's access tokens, their scopes, and a limiter
// for failed authentication attempts.
//
// # Tokens
//
// A token is a random secret handed out once, by [Tokens.Add]:
//
//	mf_<43 characters of unpadded base64url>
//
// that is "mf_" followed by 32 bytes from crypto/rand (256 bits of entropy).
// The fixed prefix lets secret scanners (gitleaks, GitHub push protection)
// recognise a leaked modferry token.
//
// Clients send it as "Authorization: Bearer TOKEN" or as the password of
// HTTP Basic authentication with any user name, so a .netrc line
// ("machine proxy.internal login x password mf_…") or GOAUTH=netrc works
// with the go command unchanged; see [FromRequest].
//
// Only the SHA-256 of a secret is stored. A fast hash is right here, unlike
// for passwords: slow hashes (bcrypt, argon2) exist to make guessing
// low-entropy secrets expensive, but nobody can guess 256 random bits, so a
// stolen hash file does not help find a secret, and a fast hash keeps the
// check cheap on every request. The hash is also the lookup key; the final
// comparison uses crypto/subtle.ConstantTimeCompare.
//
// # Scopes
//
//	read    fetch modules and checksum-database data (the GOPROXY side)
//	write   publish private modules, import bundles through the API
//	delete  delete module versions
//	admin   manage tokens and read the audit log through the API
//
// Scopes do not imply one another: admin alone cannot read modules. Each
// check is then exact and a token carries exactly what its list says, which
// is what an auditor reads. An admin token can create any token, so admin is
// the most powerful scope in practice — but using that power leaves a
// token.add entry in the audit log, instead of happening silently.
//
// # Files
//
// The tokens live in a directory inside the store (STORE/tokens):
//
//	tokens.json  {"version":1,"tokens":[{"name":…,"sha256":…,"scopes":[…],
//	             "created":…,"expires":…,"last_used":…}, …]}
//	lock         writers hold flock(LOCK_EX) on it
//
// tokens.json is 0600 in a 0700 directory and is always replaced
// atomically (temporary file, fsync, rename, fsync of the directory), so a
// reader needs no lock. Expires and last_used are left out when unknown.
//
// Tokens reaches tokens.json only through a [Doc]: read whole with a
// version, replaced whole only if still that version, and read, changed
// and replaced again when another writer got there first. [Open]'s Doc is
// the file, its version the content's SHA-256, compared under the lock;
// [OpenDoc] takes any other, such as a [StoreDoc]: an object in a store
// shared by several servers (a conditional write there needs no lock
// server).
//
// # The hot path
//
// [Tokens.Authenticate] runs on every HTTP request. It works on an
// in-memory copy and at most once a second stats tokens.json, reloading it
// only when the file changed, so that a token added or revoked by a CLI
// command in another process takes effect within a second. On a
// [StoreDoc] whose store is a [VersionStater] (S3: a HEAD for the ETag)
// the look is that, and the document is read only when its version
// changed; every server sharing the object store sees a change within a
// second of its next request. Last-use times
// are kept in memory and written back at most once a minute, never once per
// request.
package auth
