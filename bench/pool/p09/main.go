// Package main is a bench project of the pool benchmark (bench/pool.sh):
// it only imports its dependencies, so that go mod tidy keeps them.
package main

import (
	_ "github.com/redis/go-redis/v9"
	_ "github.com/urfave/cli/v2"
	_ "google.golang.org/grpc"
)

func main() {}
