package main

import "fmt"

//go:generate go tool stringer -type=Color
type Color int

const (
	Red Color = iota
	Green
)

func main() { fmt.Println(Green) }
