module example.test/proj

go 1.22

require (
	github.com/BurntSushi/toml v1.4.0
	github.com/google/uuid v1.6.0
	golang.org/x/text v0.21.0
)
