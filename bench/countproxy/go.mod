module modferry.bench/countproxy

go 1.26.0
