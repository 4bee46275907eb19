module modferry.bench/maxrss

go 1.26.0
