// Package main is a bench project of the pool benchmark (bench/pool.sh):
// it only imports its dependencies, so that go mod tidy keeps them.
package main

import (
	_ "github.com/go-chi/chi/v5"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/redis/go-redis/v9"
)

func main() {}
