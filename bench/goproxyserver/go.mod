module modferry.bench/goproxyserver

go 1.26

require github.com/goproxy/goproxy v0.22.1

require golang.org/x/mod v0.28.0 // indirect
