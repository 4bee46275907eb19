// Package diskfree reports the free space of the file system holding a
// path, on every platform modferry builds for.
package diskfree
