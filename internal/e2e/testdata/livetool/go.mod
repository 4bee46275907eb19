module example.test/tooluser

go 1.24.0

tool golang.org/x/tools/cmd/stringer

require (
	golang.org/x/mod v0.30.0 // indirect
	golang.org/x/sync v0.18.0 // indirect
	golang.org/x/tools v0.39.0 // indirect
)
