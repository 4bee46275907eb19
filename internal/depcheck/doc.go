// Package depcheck holds no code, only a test: TestDependencies fixes which
// of modferry's packages may import which (the table in depcheck_test.go),
// in the manner of go-containerregistry's depcheck. Change the table when a
// new dependency is meant; a failing test is an import nobody meant.
package depcheck
