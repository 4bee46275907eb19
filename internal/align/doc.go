// Package align reports the module versions that a set of projects select
// differently, and raises the projects that lag.
//
// A project is a module root (a directory with go.mod) or a workspace root
// (a directory with go.work). What a project selects is the go command's
// own answer, never a re-implementation of minimal version selection: each
// project's build list is `go list -mod=readonly -m -json all`, run with the
// caller's environment (GOPROXY, GOFLAGS, GONOSUMDB and the rest), with
// GOWORK=off for a module root and GOWORK=DIR/go.work for a workspace root.
// -mod=readonly on the command line overrides any -mod in GOFLAGS, so that
// reading never changes go.mod or go.sum; a project whose go.sum is
// incomplete fails with the go command's own message.
//
// A module is skewed when two projects select it at different versions.
// Its target is the version minimal version selection would pick if one
// build list held every project: the highest, by semver order, which puts
// pre-releases below their release, orders pseudo-versions by the version
// they derive from (v0.1.1-0.20240601000000-abcdef is above v0.1.0) and
// ignores +incompatible. Main modules and modules replaced by a directory
// select no version and are left out.
//
// [Write] raises the lagging projects: in a module root
// `go get MODULE@TARGET ...` then `go mod tidy`; in a workspace root
// `go get` in each workspace module whose go.mod requires the module (the
// first module of go.work's use list when none does) and then
// `go work sync`, which is the workspace's tidy (go mod tidy ignores
// go.work and cannot resolve sibling modules). Nothing else ever writes to a
// project.
//
// # Allow list
//
// An allow list names intended differences. It is a text file, one rule a
// line; '#' starts a comment, blank lines are ignored:
//
//	# any versions of these modules may differ
//	github.com/corp/legacy-*
//	# these versions may coexist, and no others
//	golang.org/x/text v0.3.7 v0.14.0
//
// The first field is a module path pattern with the glob syntax of
// GOPRIVATE (path.Match per path element, a pattern matching a prefix of
// the path matches). With no versions a rule allows any skew of matching
// modules; with versions it allows the skew when every selected version is
// listed. Allowed skews are reported but do not count as skew.
package align
