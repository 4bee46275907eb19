module modferry.bench/synthcache

go 1.26.0
