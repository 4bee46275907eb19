// Package main is a bench project of the pool benchmark (bench/pool.sh):
// it only imports its dependencies, so that go mod tidy keeps them.
package main

import (
	_ "google.golang.org/grpc"
	_ "github.com/prometheus/client_golang/prometheus"
)

func main() {}
