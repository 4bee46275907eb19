package main

import (
	"fmt"

	"github.com/BurntSushi/toml"
	"github.com/google/uuid"
	"golang.org/x/text/language"
)

func main() {
	var v map[string]any
	toml.Decode("a = 1", &v)
	fmt.Println(uuid.NewString() != "", v["a"], language.English)
}
