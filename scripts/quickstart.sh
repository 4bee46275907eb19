#!/usr/bin/env bash
# quickstart: build modferry, fill the default store (./modferry-data) with
# the modules modferry itself needs, and serve it on 127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
ADDR=${ADDR:-127.0.0.1:3000}
STORE=${STORE:-./modferry-data}

echo "== building modferry"
go build -o ./modferry ./cmd/modferry

echo "== downloading modferry's own dependencies into the module cache"
go mod download all

echo "== importing the module cache into $STORE"
./modferry import --store "$STORE" --cache-dir "$(go env GOMODCACHE)"

echo "== a go client uses the server with:"
./modferry env --server "http://$ADDR"
echo "== serving $STORE on http://$ADDR (Ctrl-C stops)"
exec ./modferry serve --store "$STORE" --addr "$ADDR"
