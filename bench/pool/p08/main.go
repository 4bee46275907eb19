// Package main is a bench project of the pool benchmark (bench/pool.sh):
// it only imports its dependencies, so that go mod tidy keeps them.
package main

import (
	_ "github.com/labstack/echo/v4"
	_ "github.com/spf13/viper"
	_ "gorm.io/gorm"
)

func main() {}
