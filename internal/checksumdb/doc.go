// Package checksumdb carries checksum-database proofs into offline networks and
// serves them there, so that the go command keeps GOSUMDB on without
// reaching the real database.
//
// # Proofs
//
// [Capture] runs on the connected side. It fetches the database's signed
// tree head, one lookup per module version, and the hash tiles needed to
// prove every record in ONE head T, the newest head seen (the latest
// endpoint, every lookup's own head and every head the offline side already
// holds). Each lookup is rewritten to carry T, so the tiles a go client asks
// for are exactly predictable. A [Proof] is a set of files named as the
// database serves them, relative to its root:
//
//	latest                           the signed head T (a note)
//	lookup/<escaped path>@<escaped version>
//	                                 record id, record text, blank line, T
//	tile/8/<L>/<NNN>[.p/<W>]         hash tiles, at the widths clients ask for
//
// Tile contents only grow by appending, so a tile of width W is the prefix
// of any wider tile at the same position; partial tiles are cut from wider
// ones when needed.
//
// Capture ends, and [Verify] consists of, a run of the real
// golang.org/x/mod/sumdb.Client (the code the go command uses) whose only
// source is the proof files: a fresh client looks every module up, and a
// client that starts from each older head a caller names does too. A file
// the client asks for that the proof lacks is an [IncompleteError].
//
// # Store and server
//
// A [DB] keeps proofs in a store.Store under "sumdb/<name>/": lookups,
// tiles, the current head ("latest") and every head ever served
// ("heads/<size>"). The served head only moves forward, and an import is
// accepted only when every head a client may hold stays provable from the
// tiles held: a client that saw an older head must be able to check it is a
// prefix of the new one, and the reverse when a proof's head is older than
// the store's. [Handler] serves the GOPROXY "/sumdb/<name>/" endpoints:
// supported, latest, lookup/... and tile/....
//
// # Errors
//
// Evidence of tampering or of a misbehaving database (a hash that differs
// from the one bundled, a record not in the tree, heads that fork, a bad
// signature, conflicting tiles) matches [ErrSecurity] with errors.Is. So
// do the typed security errors of the packages that use this one (a
// module whose hashes differ between the upstream and the other side's
// inventory, a bundle naming a known database with another key), so that
// one errors.Is tells a security failure from any other.
package checksumdb
