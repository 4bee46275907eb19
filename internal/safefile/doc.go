// Package safefile holds modferry's file primitives: the one way to
// replace a file atomically, and a directory lock that serializes writers
// across goroutines and processes. Both work on every platform the go
// command does (the lock through github.com/gofrs/flock).
//
// Every write of a file that a reader may see goes through Create (or its
// shorthands Write and WriteFile), in this order:
//
//  1. the new content goes to a temporary file in the destination's
//     directory, named TempPrefix followed by random characters and held
//     locked (package scratch) until it is renamed, so that cleaning never
//     takes a write in progress for a crash leftover;
//  2. the file is given its mode and fsynced;
//  3. it is renamed over the destination (or, for CommitNew, hard-linked
//     to it, which fails if the destination exists);
//  4. the directory is fsynced, so that the rename survives a crash
//     (Windows cannot flush a directory; NTFS journals renames itself).
//
// A reader therefore sees the old content or the new, never a part of
// either, and after a crash the name holds one of them. On any error
// before the rename the temporary file is removed and the destination is
// untouched.
package safefile
